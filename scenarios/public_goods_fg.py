"""``public-goods-fg``: the public goods game with and without peer punishment (Fehr and Gächter 2000).

Agents play in groups of ``group_size`` (4). Each round every agent gets an
``endowment`` (20 tokens) and puts a share of it, in twentieths (acts
``give_0`` .. ``give_20``), into its group's pot; the pot is multiplied so
that each token put in returns ``mpcr`` (0.4) to every member. Keeping a
token earns 1, giving it earns 0.4 back: free riding pays for each, giving
pays for the group (4 x 0.4 = 1.6 > 1).

With ``punishment`` a second phase follows, once everyone has seen what
everyone gave: each agent decides for each other member of its group how
many punishment points to assign (``spare``, ``punish_1`` .. ``punish_4``).
Each point costs the punisher ``punish_cost`` (1) and the target ``fine``
(3), the 1:3 ratio of Fehr and Gächter (2002). Whether an agent may punish,
and whom, is up to its spec: the checks ``no_peer_fines`` (any fine breaks
it) and ``no_antisocial_punishment`` (fining a member who gave at least as
much as you breaks it) apply to the punishment phase only.

``design``: ``partner`` keeps the groups for the whole run (drawn once);
``stranger`` draws new groups every round. A population that is not a
multiple of ``group_size`` leaves one smaller group.

Observation (what the environment remembers for each agent, the adaptive
state of ``conditional_contributor``): ``own`` its last contribution in
twentieths (-1 before the first round), ``others`` the mean of its group's
other members last round (twentieths, rounded), ``fined`` the points it was
fined last round (capped at 12), ``watched`` someone in its group has been
fined in an earlier round (partner design only: strangers are new every
round), ``sanctions`` punishment exists in this game, ``shortfall``
(punishment phase: how many twentieths the target gave less than the
decider; 0 in the contribution phase), ``coin`` (the engine's coin).

Welfare bounds per round: the floor of the game with punishment (nobody
gives and everyone assigns every other member the most points) and the
optimum (everybody gives everything, nobody fines). The floor is the same
with punishment off, so ``efficiency`` compares the two treatments; it is
a normalised welfare, not a share of the cooperative surplus. Metrics: ``contribution`` (mean share of the
endowment given, per round; over a run the mean), ``contribution.first`` and
``contribution.last`` (the first and the last round's), ``punishment_points``
and ``fines`` (tokens deducted).

Deterministic by design: only the game's arithmetic. The population (drawn
parameters), the groups and the rounding of targets (the coin) come from
the seed, so every metric varies by seed (punishment_points and fines are 0
without punishment).
"""

from __future__ import annotations

import sys
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from agents.acts import Act, ActSpace
from agents.checks import check
from agents.kernel_loader import worth_loading
from agents.policies import COIN_SIDES
from agents.policies.contributors import LEVELS, punish_points
from agents.uniques import unique_inverse
from scenarios.environment import Environment, environment, out_of_range
from scenarios.metric_registry import Metric
from scenarios.pairwise import needs_coin
from scenarios.stretch import Stretch

GIVE = ActSpace([Act(f"give_{k}", gives=k / LEVELS, noop=k == 0,
                     text=f"I put {k} twentieths of my endowment into the pot.") for k in range(LEVELS + 1)])
MAX_POINTS = 4
SANCTION = ActSpace([Act("spare", noop=True, text="I assign no punishment points.")]
                    + [Act(f"punish_{p}", text=f"I assign {p} punishment point{'s' * (p > 1)}.")
                       for p in range(1, MAX_POINTS + 1)])
POINTS = np.array([punish_points(a.name) for a in SANCTION], dtype=np.int64)
MAX_FINED = 12
DESIGNS = ("partner", "stranger")
PublicGoodsFGObs = namedtuple("PublicGoodsFGObs", "own others fined watched sanctions shortfall coin")


def _punishes(act: Act) -> bool | None:
    p = punish_points(act.name)
    return None if p is None else p > 0


@check("no_peer_fines")
def no_peer_fines(obs: Any, act: Act) -> bool | None:
    """Fine no one: sanctions are not an agent's to impose (applies to punishment decisions only)."""
    fines = _punishes(act)
    return None if fines is None else not fines


@check("no_antisocial_punishment")
def no_antisocial_punishment(obs: Any, act: Act) -> bool | None:
    """Fine only a member who gave less than you (applies to punishment decisions only)."""
    fines = _punishes(act)
    if fines is None:
        return None
    return not fines or getattr(obs, "shortfall", 0) > 0


@dataclass(frozen=True)
class PublicGoodsFGParams:
    """Fehr and Gächter's (2000) design.

    Attributes:
        group_size: members per group (4).
        endowment: tokens per agent and round (20).
        mpcr: marginal per-capita return of a token given (0.4).
        design: ``partner`` (fixed groups) or ``stranger`` (new groups every round).
        punishment: whether the punishment phase follows each round.
        punish_cost: what one point costs the punisher (1).
        fine: what one point costs its target (3).
    """

    group_size: int = 4
    endowment: float = 20.0
    mpcr: float = 0.4
    design: str = "partner"
    punishment: bool = True
    punish_cost: float = 1.0
    fine: float = 3.0

    def validate(self) -> str | None:
        if self.group_size < 2:
            return f"group_size must be at least 2, got {self.group_size}"
        if self.endowment <= 0:
            return f"endowment must be positive, got {self.endowment}"
        if not 0 < self.mpcr < 1:
            return f"mpcr must be between 0 and 1 (exclusive: a social dilemma), got {self.mpcr}"
        if self.design not in DESIGNS:
            return f"design must be one of {', '.join(DESIGNS)}, got {self.design!r}"
        return out_of_range(self, nonneg=("punish_cost", "fine"))


def group_payoffs(give: np.ndarray, group: np.ndarray, endowment: float, mpcr: float) -> np.ndarray:
    """Each agent's earnings from one round: what it kept plus ``mpcr`` times its group's pot."""
    pot = np.bincount(group, weights=give)
    return endowment - give + mpcr * pot[group]


def agent_params(table: Any, decider_of: list[np.ndarray]) -> tuple[np.ndarray, ...] | None:
    """Per agent, its deciders in both phases and their batch-ranked families' parameter columns
    (``conditional_contributor``'s; ``scenarios.public_goods_fg_kernel`` reads them); None when
    some agent's decider has no family."""
    out: list[np.ndarray] = []
    for phase, dec in enumerate(decider_of[:2]):
        got = table.batch_families(dec)
        if got is None or (got[0] < 0).any():
            return None
        of, families = got
        names = ("baseline", "slope", "weight", "fine_response", "deterrence") if phase == 0 else ("severity",)
        cols = {name: np.zeros(len(dec)) for name in names}
        for f, fam in enumerate(families):
            sel = of == f
            if not sel.any():
                continue
            if any(name not in fam.names for name in names):
                return None
            part = fam.params(dec[sel])
            for name in names:
                cols[name][sel] = part[name]
        out += [dec.copy(), of.astype(np.int64), *cols.values()]
    return tuple(out)


def draw_groups(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Group of each of ``n`` agents: a random partition into groups of ``size`` (one smaller remainder)."""
    return np.empty(n, dtype=np.int64) if n == 0 else (rng.permutation(n) // size).astype(np.int64)


@environment("public-goods-fg")
class PublicGoodsFG(Environment):
    Params = PublicGoodsFGParams
    acts = GIVE
    Obs = PublicGoodsFGObs
    cardinality = (LEVELS + 2, LEVELS + 1, MAX_FINED + 1, 2, 2, LEVELS + 1, COIN_SIDES)
    offset = (1, 0, 0, 0, 0, 0, 0)
    pairwise = False
    supplies = (
        Metric("contribution", "contribution", "share of endowment", aggregate="mean"),
        Metric("contribution.first", "first-round contribution", "share of endowment", per_step=False,
               aggregate="final"),
        Metric("contribution.last", "last-round contribution", "share of endowment", per_step=False,
               aggregate="final"),
        Metric("punishment_points", "punishment points", "points"),
        Metric("fines", "fines", "tokens deducted"),
    )
    checks: ClassVar[tuple[str, ...]] = ("no_peer_fines", "no_antisocial_punishment")
    books_in_blocks = True  # the kernel's summarised stretches (``Stretch.one_block``)
    description = "Public goods in groups of four, with or without costly peer punishment (Fehr and Gächter 2000)."

    def __init__(self, params: PublicGoodsFGParams, model: Any) -> None:
        super().__init__(params, model)
        self.phases = (GIVE, SANCTION)

    def setup(self, model: Any) -> None:
        n = len(model.alive)
        self.own = np.full(n, -1, dtype=np.int64)
        self.others = np.zeros(n, dtype=np.int64)
        self.fined = np.zeros(n, dtype=np.int64)
        self.watched = np.zeros(n, dtype=np.int64)
        self.group = draw_groups(n, self.params.group_size, model.rng_env)
        self.share = float("nan")
        self.first = float("nan")
        self.shares: list[float] = []
        # Drawn agents are one decider each: sorted into families at build, not in the first step.
        model.decisions.prepare_families()
        # The families' table an earlier run of the process kept, restored at build rather than by
        # the first stretch, when the rounds may fuse and no event can add deciders before round one.
        fuses = getattr(model, "env", None) is self and self.can_fast_forward(model) and model.script.quiet_steps(0, 1)
        if fuses:
            model.decisions.warm_families()
        #: What the compiled rounds read that the build already knows (the pairs of fixed groups,
        #: each agent's drawn parameters): made here, so a run's first stretch does not.
        self.kernel_memo: dict[str, Any] = {}
        if self.params.design == "partner" and len(self.group):
            pairs = self.kernel_memo["pairs"] = self.kernel_pairs()
            self.kernel_memo["bounds"] = (pairs, self.round_bounds(pairs[3]))
            self.kernel_memo["params"] = agent_params(model.decisions, model.decider_of)
            # A process that has played the loop (a sweep's later runs, a bench's timed run) also
            # makes the first stretch's inputs and buffers now; one that has not imports nothing.
            kernel = sys.modules.get("scenarios.public_goods_fg_kernel")
            if fuses and kernel is not None:
                kernel.prepare(self, model)

    def _grow(self, n: int) -> None:
        """Newcomers: no past, and (partner design) a group of their own kind at the end."""
        extra = n - len(self.own)
        if extra <= 0:
            return
        self.own = np.concatenate([self.own, np.full(extra, -1, dtype=np.int64)])
        for name in ("others", "fined", "watched"):
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros(extra, dtype=np.int64)]))
        start = int(self.group.max()) + 1 if len(self.group) else 0
        self.group = np.concatenate([self.group, start + np.arange(extra) // self.params.group_size])

    def step(self, model: Any) -> None:
        prm = self.params
        n = len(model.alive)
        self._grow(n)
        living = model.living()
        if prm.design == "stranger":
            self.group[living] = draw_groups(len(living), prm.group_size, model.rng_env)
        grp = np.unique(self.group[living], return_inverse=True)[1]
        m = len(living)
        coin = model.rng_env.integers(0, COIN_SIDES, m) if needs_coin(model) else 0
        codes = self.codec.encode(own=self.own[living], others=self.others[living], fined=self.fined[living],
                                  watched=self.watched[living], sanctions=int(prm.punishment), shortfall=0,
                                  coin=coin)
        k = model.decide(living, codes, phase=0)  # twentieths given
        give = k * prm.endowment / LEVELS
        model.add_payoff(living, group_payoffs(give, grp, prm.endowment, prm.mpcr))
        size = np.bincount(grp)
        sums = np.bincount(grp, weights=k)
        others = np.divide(sums[grp] - k, size[grp] - 1, out=np.zeros(m), where=size[grp] > 1)
        points = np.zeros(m, dtype=np.int64)
        if prm.punishment:
            points = self._punish(model, living, grp, k)
        self.own[living] = k
        self.others[living] = np.rint(others).astype(np.int64)
        self.fined[living] = np.minimum(points, MAX_FINED)
        if prm.design == "partner":
            # A fixed group that has punished once is expected to punish again; strangers are new
            # every round, so what the last group did says nothing about the next one.
            seen = np.bincount(grp, weights=points)[grp] > 0
            self.watched[living] = np.maximum(self.watched[living], seen)
        self.share = float(k.mean()) / LEVELS if m else float("nan")
        if np.isnan(self.first):
            self.first = self.share
        self.shares.append(self.share)
        self.set_bounds(grp)

    def set_bounds(self, grp: np.ndarray) -> None:
        """This round's welfare bounds for the living agents' groups ``grp`` (0..G-1)."""
        self.bounds = self.round_bounds(grp)

    def round_bounds(self, grp: np.ndarray) -> tuple[float, float]:
        """The welfare bounds (worst, best) of a round of the living agents' groups ``grp`` (0..G-1)."""
        prm = self.params
        size = np.bincount(grp)
        # The worst a round of the game with punishment allows (nobody gives, everyone fines
        # every other member the most) and the best (everyone gives all, nobody fines); the same
        # floor with punishment off keeps efficiency comparable across the two treatments.
        worst = len(grp) * prm.endowment - (prm.punish_cost + prm.fine) * MAX_POINTS * float((size[grp] - 1).sum())
        return (worst, float(prm.endowment * prm.mpcr * size[grp].sum()))

    def kernel_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What the compiled rounds read of fixed groups, everyone alive: the groups they were made
        from (a copy, to tell a change), the punishment pairs (i, j) and the groups as 0..G-1."""
        grp = self.group
        if not (len(grp) and int(grp.min()) == 0 and np.bincount(grp).all()):
            grp = unique_inverse(grp)[1].astype(np.int64)
        return (self.group.copy(), *self.member_pairs(grp), grp)

    @staticmethod
    def member_pairs(grp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every ordered pair (i, j) of distinct members of one group, as positions in ``grp``,
        in the punishment phase's order (by group, then i, then j)."""
        order = np.argsort(grp, kind="stable")
        size = np.bincount(grp)
        starts = np.cumsum(size) - size
        # Each member in sorted order is repeated once per member of its group.
        rep = size[grp[order]]
        i = np.repeat(order, rep)
        within = np.arange(len(i)) - np.repeat(np.cumsum(rep) - rep, rep)
        j = order[np.repeat(starts[grp[order]], rep) + within]
        keep = i != j
        return i[keep], j[keep]

    def _punish(self, model: Any, living: np.ndarray, grp: np.ndarray, k: np.ndarray) -> np.ndarray:
        """The punishment phase: every member decides on every other; returns points received per agent."""
        i, j = self.member_pairs(grp)
        if not len(i):
            return np.zeros(len(living), dtype=np.int64)
        short = np.clip(k[i] - k[j], 0, LEVELS)
        codes = self.codec.encode(own=0, others=0, fined=0, watched=0, sanctions=1,
                                  shortfall=short, coin=0)
        pts = POINTS[model.decide(living[i], codes, living[j], phase=1)]
        prm = self.params
        model.add_payoff(living[i], -prm.punish_cost * pts)
        model.add_payoff(living[j], -prm.fine * pts)
        model.count("punishment_points", float(pts.sum()))
        model.count("fines", float(prm.fine * pts.sum()))
        return np.bincount(j, weights=pts, minlength=len(living)).astype(np.int64)

    #: For the kernel, which imports nothing from this module (no import cycle).
    agent_params = staticmethod(agent_params)

    def fast_forward(self, model: Any, limit: int) -> Stretch | None:
        """Plain partner-design stretches play in a numba loop (``scenarios.public_goods_fg_kernel``)."""
        if not self.can_fast_forward(model):
            return None
        limit = min(limit, model.network.steps_before_rewire(model.steps))
        if limit <= 0:
            return None
        kernel = worth_loading("scenarios.public_goods_fg_kernel", limit * len(model.alive) * self.params.group_size)
        return None if kernel is None else kernel.fast_forward(self, model, limit)

    def can_fast_forward(self, model: Any) -> bool:
        """Whether the model's rounds are plain enough for the kernel (asked before each stretch).

        Fines must be whole tokens: the stretch's counters are summed over its steps at once,
        exact only for whole numbers (stepping adds them one by one).
        """
        prm = self.params
        return (
            type(self).step is PublicGoodsFG.step
            and type(self)._punish is PublicGoodsFG._punish
            and type(self).metrics is PublicGoodsFG.metrics
            and prm.design == "partner"
            and (not prm.punishment or float(prm.fine).is_integer())
            and len(model.phases) == 2
            and model.deterministic_decisions
            and model.fixed_deciders
            and not model.script.has_triggers
            and bool(model.alive.all())
        )

    def metrics(self, model: Any) -> dict[str, float]:
        return {"contribution": self.share}

    def final_metrics(self, model: Any) -> dict[str, float]:
        mean = float(np.nanmean(self.shares)) if self.shares else float("nan")
        return {"contribution": mean, "contribution.first": self.first, "contribution.last": self.share}

    def render(self, obs: Any) -> str:
        if obs.shortfall:
            return (f"A member of your group gave {obs.shortfall * 5}% of the endowment less than you. "
                    "You may assign punishment points: each costs you 1 token and it 3.")
        if obs.own < 0:
            return "First round: choose how much of your endowment to put into the group's pot."
        fined = f" You were assigned {obs.fined} punishment points." if obs.fined else ""
        return (f"Last round you gave {obs.own * 5}% of your endowment and the others in your group "
                f"{obs.others * 5}% on average.{fined} Choose how much to give this round.")
