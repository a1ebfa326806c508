"""Any specbound scenario as a PettingZoo parallel environment.

``parallel_env(scenario, **overrides)`` plays the scenario's own environment
(prisoner's dilemma, trust game, public goods, commons, negotiation, ...)
with some of its agents, the *learners*, choosing their acts from outside::

    from specbound.pettingzoo import parallel_env

    env = parallel_env("trust-game", steps=20, groups__reciprocal__count=6)
    obs, infos = env.reset(seed=1)
    while env.agents:
        acts = {a: env.action_space(a).sample(obs[a]["action_mask"]) for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(acts)

One ``step`` is one *decision point*: a moment at which some learners must
act. An engine step can hold several (the trust game asks for promises, then
amounts sent, then returns; an agent with four partners decides four times),
and a learner with nothing to decide at a point is *idle*.

Spaces (the same for every agent):

- observation: a dict. ``observation`` is a ``MultiDiscrete`` vector, the
  environment's observation fields (``model.env.Obs``, each shifted to start
  at 0) followed by the decision phase (``len(phases)`` when idle);
  ``action_mask`` is an int8 vector over the actions.
- action: ``Discrete(A + 1)``, ``A`` the largest act space of the
  environment's phases; index ``i < len(acts)`` plays act ``i`` of the
  current phase (``infos[agent]["acts"]`` names them), any other index (say
  ``A``, *defer*) lets the agent's own policy and the chain of command decide,
  as does leaving the agent out of ``actions``.
- the mask is the chain of command: an act is allowed when the resolver
  plays it for an agent whose policy ranks it first, so the acts the agent's
  spec forbids are masked. An idle agent's mask allows only *defer*. A masked
  act is still played if sent (the learner broke its spec): it is booked as
  a conflict like any other.

Rewards are the environment's payoffs, credited when an engine step settles.
An episode is the scenario's ``steps`` engine steps: then every learner is
truncated; a learner that leaves (a ``leave`` event) is terminated.

``infos[agent]``: ``step`` (engine step), ``acts`` (names of the current
phase's acts, empty when idle), ``partner`` (agent index, -1 none),
``played`` (the acts it played since the last call), ``conflicts`` (the
ledger of its decisions since the last call: winner and loser principles,
levels, sources, act, reason), ``compliance`` (per principle that applied, the
share of those decisions that kept it), ``trust`` (mean trust it holds in the
partners it met) and ``trusted`` (theirs in it), ``None`` before any meeting.

Seeds: ``reset(seed=s)`` plays the run ``specbound run SCENARIO --seed s``
would, with the learners' acts in place of their policies'. ``reset()``
without a seed draws the next episode's seed from the last seed given (0 if
none), so a sequence of episodes is reproducible.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

try:
    from gymnasium import spaces
    from pettingzoo import ParallelEnv
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError(
        "specbound.pettingzoo needs PettingZoo and Gymnasium: pip install 'specbound[pettingzoo]'"
    ) from e

from agents.errors import ScenarioError
from sim.external import ExternalModel, Played, Request, Stepper
from sim.keywords import keyword_overrides
from sim.scenario import Scenario, load_scenario


def parallel_env(scenario: str | Path, *, learners: str | list[str] | None = None,
                 render_mode: str | None = None, **overrides: Any) -> SpecParallelEnv:
    """A PettingZoo parallel environment of ``scenario`` (a shipped id or a path).

    Args:
        scenario: the scenario.
        learners: the groups whose agents act from outside (default: every
            group); the others keep their policies.
        render_mode: ``None`` or ``"ansi"`` (``render()`` returns the step's metrics).
        **overrides: dotted scenario paths, as ``--set`` takes them; write
            ``groups__buyers__count=4`` or pass ``**{"groups.buyers.count": 4}``.
    """
    return SpecParallelEnv(load_scenario(scenario, keyword_overrides(overrides)), learners, render_mode)


class SpecParallelEnv(ParallelEnv):
    """The PettingZoo parallel API over a loaded scenario (see the module's documentation)."""

    metadata: ClassVar[dict[str, Any]] = {"name": "specbound_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(self, scenario: Scenario, learners: str | list[str] | None = None,
                 render_mode: str | None = None) -> None:
        if render_mode not in (None, "ansi"):
            raise ScenarioError(f"render_mode: {render_mode!r} is not one of: ansi")
        self.scenario = scenario
        self.render_mode = render_mode
        names = [g.name for g in scenario.groups]
        chosen = names if learners is None else [learners] if isinstance(learners, str) else list(learners)
        unknown = [g for g in chosen if g not in names]
        if unknown or not chosen:
            raise ScenarioError(f"learners: {unknown[0] if unknown else 'none given'!r} is not a group "
                                f"of {scenario.id}; groups: {', '.join(names)}")
        start = np.cumsum([0] + [g.count for g in scenario.groups])
        self._seats = [i for k, g in enumerate(scenario.groups) if g.name in chosen
                       for i in range(start[k], start[k + 1])]
        group_of = np.repeat(np.arange(len(names)), [g.count for g in scenario.groups])
        self.possible_agents = [f"{names[group_of[i]]}_{i}" for i in self._seats]
        self._seat_of = {name: k for k, name in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        probe = ExternalModel(scenario, 0, self._seats)
        self._codec = probe.env.codec
        #: What each position of ``observation`` holds: the environment's fields, then the phase.
        self.observation_fields: tuple[str, ...] = (*self._codec.fields, "phase")
        #: Act names of each decision phase (index = the observation's ``phase``).
        self.phase_acts: tuple[tuple[str, ...], ...] = tuple(tuple(a.name for a in space) for space in probe.phases)
        self._defer = max(len(p) for p in self.phase_acts)
        idle = len(self.phase_acts)
        # One space object per agent, so that seeding one agent's space leaves the others'.
        self._obs_spaces = {a: spaces.Dict({
            "observation": spaces.MultiDiscrete([*self._codec.card, idle + 1]),
            "action_mask": spaces.Box(0, 1, (self._defer + 1,), dtype=np.int8),
        }) for a in self.possible_agents}
        self._act_spaces = {a: spaces.Discrete(self._defer + 1) for a in self.possible_agents}
        self._idle_obs = np.zeros(len(self._codec.card) + 1, dtype=np.int64)
        self._idle_obs[-1] = idle
        self._idle_mask = np.zeros(self._defer + 1, dtype=np.int8)
        self._idle_mask[self._defer] = 1
        self._seeds = np.random.default_rng(0)
        self._model: ExternalModel | None = None
        self._stepper: Stepper | None = None
        self._closer: weakref.finalize | None = None
        self._pending: tuple[Request, ...] = ()
        self._paid = np.zeros(len(self._seats))

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent] if agent in self._obs_spaces else _unknown(agent)

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent] if agent in self._act_spaces else _unknown(agent)

    # --- the episode -----------------------------------------------------------------------
    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        self.close()
        if seed is not None:
            self._seeds = np.random.default_rng(int(seed))
            episode_seed = int(seed)
        else:
            episode_seed = int(self._seeds.integers(2**31 - 1))
        self._model = ExternalModel(self.scenario, episode_seed, self._seats)
        self._stepper = Stepper(self._model, self.scenario.steps)
        # A dropped env must not leave its worker waiting forever.
        self._closer = weakref.finalize(self, self._stepper.close, wait=False)
        self._paid = np.zeros(len(self._seats))
        self.agents = list(self.possible_agents)
        self._pending = self._stepper.start() or ()
        obs, _rewards, infos = self._report()
        if self._stepper.finished:
            self.agents = []
        return obs, infos

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if self._stepper is None or self._model is None:
            raise RuntimeError("call reset() before step()")
        if not self.agents:
            return {}, {}, {}, {}, {}
        answers = []
        for r in self._pending:
            a = actions.get(self.possible_agents[r.seat], self._defer)
            try:
                answers.append(int(a))
            except (TypeError, ValueError):
                raise ValueError(f"action for {self.possible_agents[r.seat]}: {a!r} is not an integer "
                                 f"in 0..{self._defer}") from None
        self._pending = () if self._stepper.finished else (self._stepper.answer(answers) or ())
        obs, rewards, infos = self._report()
        over = self._stepper.finished
        alive = self._model.alive[self._model.seats]
        terminations = {a: not bool(alive[self._seat_of[a]]) for a in self.agents}
        truncations = {a: over and not terminations[a] for a in self.agents}
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        return obs, rewards, terminations, truncations, infos

    def _report(self) -> tuple[dict, dict, dict]:
        """Observations, rewards and infos of the live agents at the current decision point."""
        m = self._model
        assert m is not None
        now = {r.seat: r for r in self._pending}
        played: dict[int, list[Played]] = {}
        for p in m.played:
            played.setdefault(p.seat, []).append(p)
        m.played.clear()
        paid = m.payoff[m.seats].copy()
        earned = paid - self._paid
        self._paid = paid
        held, held_by = m.trust_of_seats()
        obs, rewards, infos = {}, {}, {}
        for name in self.agents:
            k = self._seat_of[name]
            r = now.get(k)
            obs[name] = self._observe(r)
            rewards[name] = float(earned[k])
            infos[name] = {
                "step": int(m.steps),
                "acts": list(self.phase_acts[r.phase]) if r else [],
                "partner": r.partner if r else -1,
                "played": [m.act_name(p) for p in played.get(k, ())],
                "conflicts": _ledger(m, played.get(k, [])),
                "compliance": _compliance(m, played.get(k, [])),
                "trust": None if np.isnan(held[k]) else float(held[k]),
                "trusted": None if np.isnan(held_by[k]) else float(held_by[k]),
            }
        return obs, rewards, infos

    def _observe(self, r: Request | None) -> dict[str, np.ndarray]:
        if r is None:
            return {"observation": self._idle_obs.copy(), "action_mask": self._idle_mask.copy()}
        c = self._codec
        digits = [(r.code // radix) % card for radix, card in zip(c.radix, c.card, strict=True)]
        mask = np.zeros(self._defer + 1, dtype=np.int8)
        mask[: len(r.allowed)] = r.allowed
        return {"observation": np.array([*digits, r.phase], dtype=np.int64), "action_mask": mask}

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self._model is None:
            return None
        shown = ", ".join(f"{k}={v:.3g}" for k, v in sorted(self._model.last_metrics.items())
                          if k in ("welfare", "trust_mean", "cooperation_rate", "conflicts"))
        return f"step {self._model.steps}: {shown}"

    def close(self) -> None:
        if self._closer is not None:
            self._closer.detach()
            self._closer = None
        if self._stepper is not None:
            self._stepper.close()

    @property
    def model(self) -> ExternalModel | None:
        """The live model of the episode (read it between calls; ``None`` before ``reset``)."""
        return self._model


def _unknown(agent: str) -> spaces.Space:
    raise KeyError(f"{agent!r} is not an agent of this environment")


def _ledger(m: ExternalModel, played: list[Played]) -> list[dict[str, Any]]:
    """The conflict events of these decisions, as plain dicts (levels and sources as text)."""
    rows = []
    for p in played:
        for ev in m.conflicts_of(p):
            rows.append({
                "step": p.step, "partner": p.partner, "act": ev.act, "reason": ev.reason,
                "winner": ev.winner, "winner_level": None if ev.winner_level is None else str(ev.winner_level),
                "winner_source": ev.winner_source, "loser": ev.loser, "loser_level": str(ev.loser_level),
                "loser_source": ev.loser_source,
            })
    return rows


def _compliance(m: ExternalModel, played: list[Played]) -> dict[str, float]:
    """Per principle that applied to these decisions: the share of them that kept it."""
    held: dict[str, list[int]] = {}
    for p in played:
        for pid, ok in m.compliance_of(p):
            held.setdefault(pid, []).append(int(ok))
    return {pid: sum(v) / len(v) for pid, v in held.items()}
