"""``public-goods``: an n-player public goods game on network neighbourhoods, with pledges and sanctions.

Every agent centres one group: itself and its network neighbours (Santos,
Santos & Pacheco 2008). Each step an agent makes one choice that holds in
every group it belongs to: ``pledge_contribute`` (pledge, then contribute),
``pledge_defect`` (pledge, then keep the money: a broken promise),
``contribute`` or ``defect`` (no pledge). A contributor pays ``cost`` per
group it is in; each group's pot is multiplied by ``r`` and shared equally
among its members.

With ``sanctions`` a second phase follows: every agent decides, for each
neighbour that broke a pledge this step, whether to ``punish`` it (the
punisher pays ``punish_cost``, the target loses ``fine``) or ``spare`` it.

Trust: each agent adds Beta evidence about each neighbour: kept when it
contributed, broken when it did not, plus ``lie_penalty`` more when it broke
a pledge. Observation, phase 0: ``trust`` (share of neighbours that
contributed last step, in twentieths: how far the agent can trust its
group), ``punished`` (fined last step, 0/1), ``target_broke`` (0); phase 1:
``target_broke`` (1). Welfare bounds: nobody contributes (0) and everybody
does. Metrics: ``contribution_rate``, ``pledges_broken``, ``punishments``.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from agents.acts import Act, ActSpace
from agents.checks import check
from agents.kernel_loader import worth_loading
from agents.policies import TRUST_BUCKETS
from agents.policies.learners import RothErev
from scenarios.environment import Environment, engine_learning, environment, out_of_range
from scenarios.metric_registry import Metric
from scenarios.stretch import Stretch

GIVE = ActSpace([
    Act("pledge_contribute", cooperative=True, promise="C", text="I pledge to contribute, and I do."),
    Act("pledge_defect", cooperative=False, promise="C", text="I pledge to contribute."),
    Act("contribute", cooperative=True, text="I contribute."),
    Act("defect", cooperative=False, text="I keep my money."),
])
SANCTION = ActSpace([
    Act("punish", text="I fine the neighbour who broke its pledge."),
    Act("spare", noop=True, text="I let it go."),
])
CONTRIBUTES = np.array([a.cooperative is True for a in GIVE])
BREAKS = np.array([a.promise == "C" and a.cooperative is False for a in GIVE])
PUNISH = 0
PublicGoodsObs = namedtuple("PublicGoodsObs", "trust punished target_broke")
#: The Roth-Erev arithmetic the compiled loop mirrors (a patched method: the rounds step).
_ROTH_EREV = (RothErev.preferences, RothErev.learn)


@check("punishes_breakers")
def punishes_breakers(obs: Any, act: Act) -> bool | None:
    """Fine a neighbour that broke its pledge (applies only to that decision)."""
    if not getattr(obs, "target_broke", 0):
        return None
    return act.name == "punish"


@dataclass(frozen=True)
class PublicGoodsParams:
    r: float = 3.0
    cost: float = 1.0
    sanctions: bool = True
    punish_cost: float = 0.3
    fine: float = 1.0
    lie_penalty: float = 1.0

    def validate(self) -> str | None:
        if self.r <= 1.0:
            return f"r must exceed 1 (otherwise contributing destroys value), got {self.r}"
        return out_of_range(self, nonneg=("cost", "punish_cost", "fine", "lie_penalty"))


def neighbourhood_payoffs(x: np.ndarray, edges: np.ndarray, r: float, cost: float,
                          alive: np.ndarray) -> np.ndarray:
    """Payoff of every agent from one round: shares of every group it belongs to, minus its costs.

    ``x`` is 1 for contributors; group k is k and its neighbours; a living
    agent with no neighbour plays alone.
    """
    n = len(x)
    i, j = (edges[:, 0], edges[:, 1]) if len(edges) else (np.zeros(0, int), np.zeros(0, int))
    size = alive.astype(float) + np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
    pot = x * alive + np.bincount(i, weights=x[j], minlength=n) + np.bincount(j, weights=x[i], minlength=n)
    share = np.divide(r * cost * pot, size, out=np.zeros(n), where=size > 0)
    received = share * alive + np.bincount(i, weights=share[j], minlength=n) + np.bincount(j, weights=share[i],
                                                                                          minlength=n)
    return received - cost * x * size


def mirrored_learners(model: Any) -> bool:
    """Whether the model's learners, if any, are what the compiled loop plays: one group of
    Roth-Erev learners, the engine's own learning and the class's own arithmetic."""
    lr = model.learning
    if lr is None:
        return True
    if len(lr.groups) != 1 or lr.watching:
        return False
    gl = next(iter(lr.groups.values()))
    return engine_learning(lr) and type(gl.policy) is RothErev and (RothErev.preferences, RothErev.learn) == _ROTH_EREV


@environment("public-goods")
class PublicGoods(Environment):
    Params = PublicGoodsParams
    acts = GIVE
    Obs = PublicGoodsObs
    cardinality = (TRUST_BUCKETS + 1, 2, 2)
    pairwise = True
    supplies = (
        Metric("contribution_rate", "contribution rate", "share of choices", aggregate="ratio"),
        Metric("contributions", "contributions", "count"),
        Metric("pledges_broken", "pledges broken", "count"),
        Metric("punishments", "punishments", "count"),
        Metric("choices", "choices", "count"),
    )
    checks: ClassVar[tuple[str, ...]] = ("keeps_promise", "cooperates", "punishes_breakers")
    description = "n-player public goods on network neighbourhoods; pledges are promises; optional costly sanctions."
    #: Per act, whether it contributes and whether it breaks a pledge: for the compiled loop,
    #: which imports nothing from this module (no import cycle).
    contributes: ClassVar[np.ndarray] = CONTRIBUTES
    breaks: ClassVar[np.ndarray] = BREAKS

    def __init__(self, params: PublicGoodsParams, model: Any) -> None:
        super().__init__(params, model)
        self.phases = (GIVE, SANCTION)
        self.n_contrib = 0.0
        self.n_agents = 0.0

    def setup(self, model: Any) -> None:
        self.last_share = np.ones(len(model.alive))
        self.punished = np.zeros(len(model.alive), dtype=bool)
        self._graph_memo: tuple[Any, np.ndarray] | None = None
        self._rows_memo: tuple[int, np.ndarray, np.ndarray] | None = None
        self._layout_memo: tuple[tuple[int, int, int], np.ndarray, tuple[np.ndarray, ...] | None] | None = None
        model.edges  # noqa: B018  (the edge array, cached per graph version: made at build, not in round one)
        # Cells an earlier run of this population computed (drawn keepers: each its own decider),
        # and the deciders' signatures behind that look-up, at build rather than in round one.
        model.decisions.warm()
        # The half-edges' pair rows, which the first round makes, made with the model (set-up, as
        # the edge array) when the rounds may fuse and nothing can move the graph before round one:
        # the very rows the round would make (one look-up of the same pairs in an empty table).
        if self.can_fast_forward(model) and model.script.quiet_steps(0, 1) and len(model.edges):
            self.layout(model)

    def step(self, model: Any) -> None:
        prm = self.params
        n = len(model.alive)
        if len(self.last_share) < n:  # newcomers start trusting, unpunished
            grow = n - len(self.last_share)
            self.last_share = np.concatenate([self.last_share, np.ones(grow)])
            self.punished = np.concatenate([self.punished, np.zeros(grow, dtype=bool)])
        e = model.edges
        living = model.living()
        trust = np.floor(self.last_share[living] * TRUST_BUCKETS + 1e-9).astype(np.int64)
        act = model.decide(living, self.codec.encode(trust=trust, punished=self.punished[living].astype(np.int64),
                                                     target_broke=0), phase=0)
        x = np.zeros(n)
        x[living] = CONTRIBUTES[act]
        broke = np.zeros(n, dtype=bool)
        broke[living] = BREAKS[act]
        pay = neighbourhood_payoffs(x, e, prm.r, prm.cost, model.alive)
        graph = self._graph(model, e, n)
        deg = graph[1]
        size = (deg + 1) * model.alive
        self.bounds = self.welfare_bounds(size)
        model.add_payoff(living, pay[living])

        punished = np.zeros(n, dtype=bool)
        if len(e):
            obs_i, obs_j = model.edge_agents()  # [i; j] and [j; i], cached per graph
            if prm.sanctions:
                sel = broke[obs_j]
                if sel.any():
                    pi, pj = obs_i[sel], obs_j[sel]
                    codes = self.codec.encode(trust=0, punished=0, target_broke=1)
                    s = model.decide(pi, np.full(len(pi), codes), pj, phase=1) == PUNISH
                    model.add_payoff(pi[s], np.full(int(s.sum()), -prm.punish_cost))
                    model.add_payoff(pj[s], np.full(int(s.sum()), -prm.fine))
                    punished[pj[s]] = True
                    model.count("punishments", float(s.sum()))
            rows = self._rows(model, obs_i, obs_j)
            gave = x[obs_j] > 0
            model.pairs.record_moves(rows, gave.astype(np.int8), gave.astype(np.int8))
            model.pairs.observe(rows, gave.astype(float), (~gave) + prm.lie_penalty * broke[obs_j])
            nb = np.bincount(obs_i, minlength=n)
            got = np.bincount(obs_i, weights=x[obs_j], minlength=n)
            self.last_share = np.divide(got, nb, out=np.ones(n), where=nb > 0)
        self.punished = punished
        # Trust is evidence of contributing, so the truth it is calibrated against is too.
        model.record_truth(living, x[living] > 0)
        self.n_contrib = float(x[living].sum())
        self.n_agents = float(len(living))
        model.count("contributions", self.n_contrib)
        model.count("pledges_broken", float(broke.sum()))
        model.count("choices", self.n_agents)
        model.decisions.keep()  # offered to later runs of this population (sim.cell_memo.TABLES)

    # --- stretches of rounds in one compiled loop ------------------------------------------------
    def fast_forward(self, model: Any, limit: int) -> Stretch | None:
        """Stretches of rounds play in a numba loop (``scenarios.public_goods_kernel``), Roth-Erev
        learners included; results equal stepping's."""
        if not self.can_fast_forward(model):
            return None
        limit = min(limit, model.network.steps_before_rewire(model.steps))
        if limit <= 0:
            return None
        kernel = worth_loading("scenarios.public_goods_kernel", limit * 2 * len(model.edges))
        return None if kernel is None else kernel.fast_forward(self, model, limit)

    def can_fast_forward(self, model: Any) -> bool:
        """Whether the model's rounds are what the kernel mirrors (asked before each stretch)."""
        cls = type(self)
        return (
            all(getattr(cls, name) is getattr(PublicGoods, name) for name in ("step", "metrics", "_graph", "_rows"))
            and len(model.phases) == 2
            and model.decisions_by_table
            and mirrored_learners(model)
            and model.fixed_deciders
            and model.memory is None
            and not model.script.has_triggers
            and bool(model.alive.all())
        )

    def welfare_bounds(self, size: np.ndarray) -> tuple[float, float]:
        """A round's welfare bounds for groups of ``size`` (0 for the dead): nobody contributing,
        and everybody (each contribution returns ``r - 1`` times its cost to the group)."""
        prm = self.params
        return (0.0, float(((prm.r - 1.0) * prm.cost * size).sum()))

    def layout(self, model: Any) -> tuple[np.ndarray, ...] | None:
        """What the compiled rounds read of the graph: edges and half-edges (int64), their pair
        rows, each agent's group size (float) and each pair row's partner; None with a self-tie
        (its half-edges share a pair row). Kept while the graph and the pair table's rows stand,
        and made at build with the rows (``setup``)."""
        pairs = model.pairs
        key = (model.graph_version, len(model.alive), pairs.version)
        got = self._layout_memo
        if got is not None and got[0] == key and got[1] is pairs.rowof:
            return got[2]
        e = model.edges
        n = len(model.alive)
        hi, hj = model.edge_agents()
        rows = self._rows(model, hi, hj)  # may add rows: the key is read after
        size = (self._graph(model, e, n)[1] + 1) * model.alive
        out = None if bool((e[:, 0] == e[:, 1]).any()) else (
            e[:, 0].astype(np.int64), e[:, 1].astype(np.int64), hi.astype(np.int64), hj.astype(np.int64),
            np.asarray(rows, np.int64), size, size.astype(np.float64), pairs.pairs()[1])
        self._layout_memo = ((model.graph_version, n, pairs.version), pairs.rowof, out)
        return out

    def _graph(self, model: Any, e: np.ndarray, n: int) -> tuple[Any, np.ndarray]:
        """(graph version and size, degrees): made again only when the graph changed."""
        key = (model.graph_version, n)
        got = self._graph_memo
        if got is None or got[0] != key:
            deg = np.bincount(e.ravel(), minlength=n) if len(e) else np.zeros(n, int)
            got = self._graph_memo = (key, deg)
        return got

    def _rows(self, model: Any, obs_i: np.ndarray, obs_j: np.ndarray) -> np.ndarray:
        """The pair table's rows of the half-edges: looked up again only when the graph or the
        table's layout changed (any insertion, merge or re-layout replaces its ``rowof``)."""
        got = self._rows_memo
        if got is None or got[0] != model.graph_version or got[1] is not model.pairs.rowof:
            rows = model.pairs.index(obs_i, obs_j)  # may insert rows: ``rowof`` read after
            got = self._rows_memo = (model.graph_version, model.pairs.rowof, rows)
        return got[2]

    def metrics(self, model: Any) -> dict[str, float]:
        return {"contribution_rate": self.n_contrib / self.n_agents if self.n_agents else float("nan")}

    def final_metrics(self, model: Any) -> dict[str, float]:
        c = model.totals.counted
        return {"contribution_rate": c.get("contributions", 0.0) / c["choices"] if c.get("choices") else float("nan")}

    def render(self, obs: Any) -> str:
        if obs.target_broke:
            return "A neighbour pledged to contribute and did not. You may fine it at a cost to yourself."
        fined = " You were fined last round." if obs.punished else ""
        return (f"Last round {obs.trust * 5}% of your neighbours contributed to the common pot.{fined} "
                "Choose whether to pledge and whether to contribute.")
