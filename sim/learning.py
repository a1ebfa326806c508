"""The engine side of learners (``agents.policies.learners``): tiers, choices, overrides, rewards.

``SpecModel.decide`` hands the decisions of learning agents to :meth:`Learning.choose`
with the decision cells. A cell holds, beside the resolver's choice, the *tier*:
the bitmask of acts that satisfy the compliance vector as well as the best act
(computed once per observation code, like every cell). The learner's favourite
is sampled from its preferences; outside the tier it is overridden, the
principles it breaks are counted (``overrides.<principle>``), and the act is
sampled from the preferences restricted to the tier. After the step's payoffs
are settled, :meth:`Learning.after_play` rewards each decision with its agent's
payoff per decision in the step (exact when an agent decides once a step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from agents.errors import ScenarioError
from agents.kernel_loader import worth_loading
from agents.uniques import by_key, lookup

if TYPE_CHECKING:
    from sim.model import SpecModel




def is_learner(policy: Any) -> bool:
    return bool(getattr(policy, "learner", False))


def tier_of(binding: Any, obs: Any, acts: Any, ranking: tuple[int, ...]) -> int:
    """Bitmask of the acts the resolver would play if the policy put them first: the best tier."""
    mask = 0
    for a in range(len(acts)):
        first = (a, *(b for b in ranking if b != a))
        if binding.decide(obs, acts, first).act == a:
            mask |= 1 << a
    return mask


@dataclass(slots=True)
class _GroupLearning:
    group: int
    policy: Any
    fields: tuple[int, ...]      # observation field positions the learner sees
    cards: tuple[int, ...]
    rows: np.ndarray             # agent -> row in this group's state (-1: not in the group)
    state: dict[str, dict[str, np.ndarray]]  # per phase


class _Pending(NamedTuple):
    """One decide call's learner decisions of a group, awaiting their reward."""

    group: int
    phase: int
    agents: np.ndarray
    rows: np.ndarray             # the agents' rows in the group's state
    states: np.ndarray           # learner states
    acts: np.ndarray
    partners: np.ndarray | None


class Learning:
    """Per-group learner state and the step's decisions awaiting their reward."""

    def __init__(self, model: SpecModel) -> None:
        self.rng = model.rng.spawn(1)[0]  # own stream: other streams draw as without learners
        self.groups: dict[int, _GroupLearning] = {}
        codec = model.env.codec
        n = len(model.group_of)
        for gs in model.groups:
            if not is_learner(gs.policy):
                continue
            missing = [f for f in gs.policy.observe if f not in codec.fields]
            if missing:
                raise ScenarioError(f"groups.{gs.name}.params.observe: environment {model.env.name!r} has no "
                                    f"field {missing[0]!r}; allowed: {', '.join(codec.fields)}")
            fields = tuple(codec.fields.index(f) for f in gs.policy.observe)
            members = np.flatnonzero(model.group_of == gs.index)
            rows = np.full(n, -1, dtype=np.int64)
            rows[members] = np.arange(len(members))
            self.groups[gs.index] = _GroupLearning(gs.index, gs.policy, fields,
                                                   tuple(codec.card[k] for k in fields), rows, {})
        self.pending: list[_Pending] = []
        # Belief learners learn from their partners' moves: the step's decisions are kept
        # as (agent, partner, cooperative 0/1/-1) when one of them watches.
        self.watching = any(getattr(gl.policy, "watches_partners", False) for gl in self.groups.values())
        self._moves: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._lookup: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
        self.overrides = np.zeros(0)  # per principle (model.decisions.principle_ids), over the run
        self.step_overrides = np.zeros(0)
        self.step_overridden = 0  # decisions whose favourite the spec set aside, this step
        self.overridden = 0  # ... over the run
        #: A compiled stretch's overrides per step, (K, principles) and (K,), while it is booked.
        self.stretch: tuple[np.ndarray, np.ndarray] | None = None

    def _states(self, gl: _GroupLearning, codec: Any, codes: np.ndarray) -> np.ndarray:
        s: np.ndarray | None = None  # the first field's digit as it is: one field needs no sum
        for k, card in zip(gl.fields, gl.cards, strict=True):
            digit = (codes // codec.radix[k]) % card
            s = digit if s is None else s * card + digit
        return np.zeros(len(codes), dtype=np.int64) if s is None else s

    def state_of(self, group: int, phase: int, n_acts: int) -> dict[str, np.ndarray]:
        """The learning state of ``group`` in ``phase`` (made on first use, as a step makes it)."""
        return self._state(self.groups[group], phase, n_acts)

    def _state(self, gl: _GroupLearning, phase: int, n_acts: int) -> dict[str, np.ndarray]:
        st = gl.state.get(phase)
        if st is None:
            size = int(np.prod(gl.cards, dtype=np.int64)) if gl.cards else 1
            st = gl.state[phase] = gl.policy.init_state(int((gl.rows >= 0).sum()), size, n_acts)
        return st

    def choose(self, model: SpecModel, agents: np.ndarray, codes: np.ndarray, cells: np.ndarray,
               chosen: np.ndarray, phase: int, partners: np.ndarray | None = None) -> np.ndarray:
        """Replace the resolver's act by the learner's choice within the tier, for learning agents."""
        groups = model.group_of[agents]
        n_acts = len(model.phases[phase])
        out = chosen.copy()
        for g, gl in self.groups.items():
            sel = np.flatnonzero(groups == g)
            if not len(sel):
                continue
            mine = agents[sel]
            rows = gl.rows[mine]
            s = self._states(gl, model.env.codec, codes[sel])
            st = self._state(gl, phase, n_acts)
            prefs = gl.policy.preferences(st, rows, s)
            act = _sample(prefs, self.rng)  # the favourite, until the spec overrides it
            tier = model.decisions.tier[cells[sel]]
            inside = ((tier >> act) & 1).astype(bool)
            if not inside.all():
                bad = np.flatnonzero(~inside)
                self._count_overrides(model, cells[sel[bad]], act[bad])
                allowed = ((tier[bad, None] >> np.arange(n_acts)) & 1).astype(bool)
                act[bad] = _sample(prefs[bad] * allowed, self.rng, fallback=allowed)
            out[sel] = act
            self.pending.append(_Pending(g, phase, mine, rows, s, act, None if partners is None else partners[sel]))
        return out

    def _count_overrides(self, model: SpecModel, cells: np.ndarray, fav: np.ndarray) -> None:
        # A favourite may break several principles: once per decision here, once per principle below.
        self.step_overridden += len(cells)
        outcomes = model.decisions.base[cells] + fav
        comp = model.decisions.compliance_rows()
        counts = np.bincount(outcomes, minlength=model.decisions.n_outcomes)
        broken = comp["held"] == 0
        per = np.bincount(comp["principle"][broken], weights=counts[comp["outcome"][broken]],
                          minlength=len(model.decisions.principle_ids))
        self.step_overrides = _grown(self.step_overrides, len(per))
        self.step_overrides[: len(per)] += per

    def booked(self, model: SpecModel, agents: np.ndarray, partners: np.ndarray | None,
               outcomes: np.ndarray) -> None:
        """The step's decisions as booked (after every other say), for learners that watch partners."""
        if self.watching and partners is not None:
            coop = model.decisions.outcome_column("coop")[outcomes]
            self._moves.append((agents, np.asarray(partners, dtype=np.int64), coop))

    def _partner_moves(self, model: SpecModel, agents: np.ndarray, partners: np.ndarray | None) -> np.ndarray:
        """Each decision's partner's cooperative move towards the agent this step (-1: none).

        A partner that decided towards the agent more than once in the step (several phases)
        counts by its last cooperative or defecting move.
        """
        if partners is None or not self._moves:
            return np.full(len(agents), -1, dtype=np.int64)
        if self._lookup is None:  # once per step: each (agent, partner) key's last move
            self._lookup = _move_table(np.concatenate([m[0] for m in self._moves]),
                                       np.concatenate([m[1] for m in self._moves]),
                                       np.concatenate([m[2] for m in self._moves]), self._stride(model))
        return self._lookup(agents, np.asarray(partners, dtype=np.int64))

    @staticmethod
    def _stride(model: SpecModel) -> np.int64:
        return np.int64(len(model.payoff) + 1)

    def before_play(self, model: SpecModel) -> None:
        self.stretch = None
        self.pending = []
        self._moves = []
        self._lookup = None
        self.step_overrides = np.zeros(len(model.decisions.principle_ids))
        self.step_overridden = 0

    def after_play(self, model: SpecModel) -> None:
        """Reward each decision of the step with its agent's payoff per decision."""
        if not self.pending:
            return
        every = np.concatenate([p.agents for p in self.pending])
        per_agent = np.bincount(every, minlength=len(model.payoff))
        reward = model.step_payoff / np.maximum(per_agent, 1)
        for g, phase, agents, rows, s, acts, partners in self.pending:
            gl = self.groups[g]
            extra: dict[str, np.ndarray | None] = {}
            if getattr(gl.policy, "watches_partners", False):  # what each partner did
                extra["partner"] = self._partner_moves(model, agents, partners)
            if getattr(gl.policy, "follows_partners", False):  # who each partner is
                extra["partners"] = partners
            gl.policy.learn(gl.state[phase], rows, s, acts, reward[agents], **extra)
        self.overrides = _grown(self.overrides, len(self.step_overrides))
        self.overrides[: len(self.step_overrides)] += self.step_overrides
        self.overridden += self.step_overridden

    def book_stretch(self, per_principle: np.ndarray, overridden: np.ndarray) -> None:
        """Overrides of the K steps a compiled stretch played, (K, principles) and (K,): added to
        the run's totals step by step as ``after_play`` adds them, and kept for the metrics."""
        for row, count in zip(per_principle, overridden.tolist(), strict=True):
            self.overrides = _grown(self.overrides, len(row))
            self.overrides[: len(row)] += row
            self.overridden += int(count)
        self.step_overrides = per_principle[-1].copy()
        self.step_overridden = int(overridden[-1])
        self.stretch = (per_principle, overridden)

    def override_columns(self, model: SpecModel, k: int) -> dict[str, np.ndarray]:
        """``overrides.<principle>`` over the ``k`` steps being booked (a stretch's, or this step's)."""
        if self.stretch is not None and len(self.stretch[1]) == k:
            per = self.stretch[0]
            return {f"overrides.{pid}": per[:, i].astype(np.float64) if i < per.shape[1] else np.zeros(k)
                    for i, pid in enumerate(model.decisions.principle_ids)}
        return {name: np.full(k, v) for name, v in self.metrics(model).items()}

    def overridden_column(self, k: int) -> np.ndarray:
        """``overrides`` (decisions overridden) over the ``k`` steps being booked."""
        if self.stretch is not None and len(self.stretch[1]) == k:
            return self.stretch[1].astype(np.float64)
        return np.full(k, float(self.step_overridden))

    def metrics(self, model: SpecModel) -> dict[str, float]:
        per = _grown(self.step_overrides, len(model.decisions.principle_ids))
        return {f"overrides.{pid}": float(per[i]) for i, pid in enumerate(model.decisions.principle_ids)}

    def final_metrics(self, model: SpecModel) -> dict[str, float]:
        """Overrides in total and per principle over the run, and each learning group's learned preferences."""
        per = _grown(self.overrides, len(model.decisions.principle_ids))
        out = {f"overrides.{pid}": float(per[i]) for i, pid in enumerate(model.decisions.principle_ids)}
        out["overrides"] = float(self.overridden)
        for g, gl in self.groups.items():
            name = model.groups[g].name
            for phase, st in sorted(gl.state.items()):
                for key, v in gl.policy.summary(st).items():
                    kind, _, a = key.partition(".")
                    label = model.phases[phase][int(a)].name if a.isdigit() else a
                    prefix = f"learned.{name}" + (f".phase{phase}" if phase else "")
                    out[f"{prefix}.{kind}.{label}"] = v
        return out


def _move_table(agents: np.ndarray, partners: np.ndarray, coop: np.ndarray,
                stride: np.int64) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The step's booked moves as a look-up: (agents, partners) -> each partner's last move
    (0 or 1) towards the agent, -1 for none; hashed when compiled code pays, else sorted."""
    kernel = worth_loading("sim.moves_kernel", len(agents))
    if kernel is not None:
        slots = kernel.last_moves(agents * stride + partners, coop, kernel.table_bits(len(agents)))
        return lambda a, p: kernel.moves_towards(slots, a, p, int(stride))  # type: ignore[no-any-return]
    c = coop.astype(np.int64)
    keep = c >= 0
    uniq, last = by_key(agents[keep] * stride + partners[keep], last=True)
    moves = c[keep][last]
    return lambda a, p: lookup(uniq, moves, p * stride + a)


def _grown(a: np.ndarray, n: int) -> np.ndarray:
    return a if len(a) >= n else np.concatenate([a, np.zeros(n - len(a))])


def _sample(probs: np.ndarray, rng: np.random.Generator, fallback: np.ndarray | None = None) -> np.ndarray:
    """One column per row with the row's probabilities (rows summing to 0 use ``fallback`` uniformly).

    Column by column: a handful of acts makes row-wise reductions over (m, acts) arrays several
    times slower than the same sums over columns, and the draws are the same.
    """
    cols = [probs[:, a] for a in range(probs.shape[1])]
    total = cols[0].copy()
    for c in cols[1:]:
        total += c
    if fallback is not None:
        empty = total <= 0
        if empty.any():
            cols = [np.where(empty, fallback[:, a], c) for a, c in enumerate(cols)]
            total = cols[0].astype(np.float64)
            for c in cols[1:]:
                total = total + c
    u = rng.random(len(total))
    u *= total
    if len(cols) == 1:
        return np.zeros(len(total), dtype=np.int64)
    # Cumulative shares from the first column on (0 + c is c: the same comparisons).
    cum = cols[0].astype(np.float64)  # a copy, and floats as the sum of zeros and c made them
    out = (cum <= u).astype(np.int64)
    for c in cols[1:-1]:
        cum += c
        out += cum <= u
    return out
