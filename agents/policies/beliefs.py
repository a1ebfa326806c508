"""Belief learning: smooth fictitious play over what partners do (Brown 1951; Fudenberg and Levine 1998).

Reinforcement learners (``agents.policies.learners``) learn the value of
their own acts; a belief learner learns *about its partners* and best-responds
to what it believes. Each agent keeps, per learner state (the observation seen
through ``observe``, e.g. ``partner_last``: did this partner cooperate with me
last time), counts of its partners' moves towards it, cooperative or not:
its belief that the next partner in that state cooperates is the empirical
frequency, started from ``prior`` pseudo-counts on each side. That is
fictitious play over partner types, the type being "cooperates" or "defects"
in that state, so the learner ends up trusting whom experience says to trust.

It does not know the game's payoffs either: it learns the mean reward of each
of its acts against each partner move (``u[act, move]``, starting at
``initial``), and plays the act of highest expected reward under its belief,
softmax with ``temperature`` (smooth fictitious play) or, at temperature 0,
greedily with ``epsilon`` exploration. A decision the partner had no say in
(nothing to answer: an investor who sent nothing) teaches the act's value
whatever the partner is, and nothing about the partner.

Known outcomes (``tests/test_beliefs.py``): in the prisoner's dilemma defection
dominates, so fictitious play ends in mutual defection; an investor best-responds
to its belief, sending everything to a trustee who returns half and nothing to
one who keeps all. The engine (``sim.learning``) hands it the partner's move
of the step (``watches_partners``) and keeps it within the spec's best tier.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from agents.kernel_loader import worth_loading
from agents.policies.base import policy
from agents.policies.learners import Learner, State, _check, _shape, column_max, softmax_columns


@policy("fictitious_play")
class FictitiousPlay(Learner):
    """Smooth fictitious play over partners' moves, with payoffs learned from experience.

    Parameters: ``observe`` (the fields the belief is conditioned on), ``prior``
    (pseudo-counts of each partner move), ``initial`` (the reward expected of an
    act never tried: optimism makes agents try every act), ``temperature``
    (softmax; 0: greedy) and ``epsilon`` (exploration when greedy).
    """

    watches_partners: ClassVar[bool] = True
    params: ClassVar[dict[str, Any]] = {"observe": str, "prior": (int, float), "initial": (int, float),
                                        "temperature": (int, float), "epsilon": (int, float)}

    def __init__(self, observe: str = "", prior: float = 1.0, initial: float = 0.0, temperature: float = 0.0,
                 epsilon: float = 0.05) -> None:
        super().__init__(observe=observe, prior=prior, initial=initial, temperature=temperature, epsilon=epsilon)
        _check("fictitious_play.prior", prior, 1e-9)
        _check("fictitious_play.temperature", temperature, 0.0)
        _check("fictitious_play.epsilon", epsilon, 0.0, 1.0)
        self.prior, self.initial, self.temperature, self.epsilon = prior, initial, temperature, epsilon

    def init_state(self, agents: int, states: int, acts: int) -> State:
        # float32: beliefs and mean rewards need no more, and 10^6 agents stay small.
        return {**_shape(agents, states),
                "seen": np.full((agents, states, 2), float(self.prior), dtype=np.float32),
                "u": np.full((agents, states, acts, 2), float(self.initial), dtype=np.float32),
                "tried": np.zeros((agents, states, acts, 2), dtype=np.float32)}

    def belief(self, state: State, rows: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Probability that the partner cooperates, per decision."""
        # np.take along rows: several times faster than fancy indexing for a 2-D gather.
        seen = np.take(state["seen"].reshape(-1, 2), rows * state["seen"].shape[1] + s, axis=0)
        return np.asarray(seen[:, 1] / (seen[:, 0] + seen[:, 1]), dtype=np.float64)

    def preferences(self, state: State, rows: np.ndarray, s: np.ndarray) -> np.ndarray:
        _, n_states, n_acts, _ = state["u"].shape
        kernel = _kernel(len(rows)) if self.temperature == 0 else None
        if kernel is not None:
            out: np.ndarray = kernel.greedy(state["seen"].reshape(-1), state["u"].reshape(-1),
                                            rows * n_states + s, n_acts, float(self.epsilon)).T
            return out
        b = self.belief(state, rows, s)
        u = np.take(state["u"].reshape(-1, n_acts * 2), rows * n_states + s, axis=0)
        # Column by column (a few acts): each act's expected reward under the belief.
        value = [u[:, 2 * a] + b * (u[:, 2 * a + 1] - u[:, 2 * a]) for a in range(n_acts)]
        out = np.empty((len(b), n_acts), order="F")
        top = column_max(value)
        if self.temperature > 0:
            return softmax_columns(value, top, self.temperature, out)
        cut = top - 1e-6
        best = [v >= cut for v in value]
        count = best[0].astype(np.int64)
        for bb in best[1:]:
            count += bb
        for a in range(n_acts):
            out[:, a] = (1 - self.epsilon) * (best[a] / count) + self.epsilon / n_acts
        return out

    def learn(self, state: State, rows: np.ndarray, s: np.ndarray, acts: np.ndarray, rewards: np.ndarray,
              partner: np.ndarray | None = None) -> None:
        move = np.full(len(rows), -1, dtype=np.int64) if partner is None else np.asarray(partner, np.int64)
        n_states, n_acts = state["u"].shape[1], state["u"].shape[2]
        cell = rows * n_states + s  # (agent, state) as one index: flat 1-D updates take numpy's fast path
        seen = state["seen"].reshape(-1)
        kernel = _kernel(len(rows))
        if kernel is not None:
            kernel.learn(seen, state["u"].reshape(-1), state["tried"].reshape(-1), cell,
                         np.asarray(acts, np.int64), np.asarray(rewards, np.float64), move, n_acts)
            return
        known = move >= 0
        np.add.at(seen, cell[known] * 2 + move[known], np.float32(1.0))
        # The act's value against the move seen, or against both when the partner had no say
        # (those decisions appear twice, once per move: distinct entries, so one pass serves).
        u, tried = state["u"].reshape(-1), state["tried"].reshape(-1)
        both = np.flatnonzero(~known)
        key = np.concatenate([cell * n_acts + acts, (cell * n_acts + acts)[both]]) * 2
        flat = key + np.concatenate([np.where(known, move, 0), np.ones(len(both), dtype=np.int64)])
        reward = np.concatenate([rewards, rewards[both]])
        np.add.at(tried, flat, np.float32(1.0))
        # Running mean (a key met several times in one step: each adds its share against the
        # mean before the step, exact when a key occurs once).
        np.add.at(u, flat, ((reward - u[flat]) / tried[flat]).astype(np.float32))

    def summary(self, state: State) -> dict[str, float]:
        out = super().summary(state)
        seen = state["seen"]
        out["belief.cooperates"] = float((seen[..., 1] / seen.sum(axis=-1)).mean())
        return out


#: Decisions of a call from which preferences and updates are compiled (``fp_kernel``): below
#: it numba's import (most of a second, once per process) would not pay unless already loaded.
FP_KERNEL_MIN = 1 << 13


def _kernel(work: int) -> Any:
    """``agents.policies.fp_kernel`` for a call of ``work`` decisions, or None: numpy's way."""
    return worth_loading("agents.policies.fp_kernel", work, FP_KERNEL_MIN)
