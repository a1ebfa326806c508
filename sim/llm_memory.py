"""Language-model agents' memory: a bounded window of their past outcomes, told in the prompt.

A rule-based learner keeps its state in arrays (``sim.learning``); a language
model can learn within a run only from what its prompt tells it. With
``memory = N`` in a group's ``[llm]`` table, each of its agents keeps its last
N decisions' outcomes: the step, the act it chose, the partner, what that
partner did towards it in the same step, and its payoff in that step. They are
appended to the observation of its next decisions, oldest first, so the prompt
holds the last N outcomes and no more (the window keeps prompts bounded, and
the reply cache still serves an identical rerun).

The model books every decision (:meth:`LLMMemory.booked`); after the step's
payoffs are settled :meth:`LLMMemory.after_play` files the outcomes of the
agents that remember. Few agents are language models, so a deque per agent
is the right size of structure here.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.model import SpecModel


class LLMMemory:
    """Per-agent windows of past outcomes for the language-model groups that ask for one.

    Args:
        sizes: group index -> window length (groups with ``memory = 0`` are left out).
    """

    def __init__(self, sizes: dict[int, int]) -> None:
        self.sizes = sizes
        self.windows: dict[int, deque[str]] = {}
        self._step: list[tuple[np.ndarray, np.ndarray | None, int, np.ndarray]] = []

    def before_play(self) -> None:
        self._step = []

    def booked(self, agents: np.ndarray, partners: np.ndarray | None, phase: int, chosen: np.ndarray) -> None:
        """One ``decide`` call's decisions as booked (every agent's: partners' moves are read here)."""
        self._step.append((agents, partners, phase, chosen))

    def after_play(self, model: SpecModel) -> None:
        """File each remembering agent's outcomes of the step (payoffs are settled by now)."""
        if not self._step:
            return
        towards: dict[tuple[int, int], str] = {}  # (partner, agent) -> the partner's last act to it
        for agents, partners, phase, chosen in self._step:
            if partners is None:
                continue
            names = model.phases[phase]
            for a, p, c in zip(agents.tolist(), partners.tolist(), chosen.tolist(), strict=True):
                towards[(a, p)] = names[c].name
        groups = model.group_of
        for agents, partners, phase, chosen in self._step:
            mine = np.flatnonzero(np.isin(groups[agents], list(self.sizes)))
            names = model.phases[phase]
            for k in mine.tolist():
                i = int(agents[k])
                who = "" if partners is None else int(partners[k])
                theirs = towards.get((int(who), i), "nothing") if who != "" else "nothing"
                line = (f"step {model.steps}: you chose {names[int(chosen[k])].name}"
                        + (f" with agent {who}, who chose {theirs} towards you" if who != "" else "")
                        + f"; your payoff that step: {model.step_payoff[i]:g}")
                window = self.windows.get(i)
                if window is None:
                    window = self.windows[i] = deque(maxlen=self.sizes[int(groups[i])])
                window.append(line)

    def render(self, agent: int) -> str:
        """The agent's window as prompt text ("" when it remembers nothing yet)."""
        window = self.windows.get(int(agent))
        if not window:
            return ""
        return (f"\n\nYour memory (your last {len(window)} outcomes, oldest first):\n"
                + "\n".join(f"- {line}" for line in window))
