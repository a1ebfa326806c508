"""``negotiation``: delegated bargaining between buyers and sellers, with secrets and hidden goals.

Every step, every network edge joining a buyer and a seller is one
negotiation over one item. The buyer's value and the seller's cost (their
*reserves*) are drawn afresh from ``model.rng_env``; a deal is possible when
value exceeds cost, and the surplus ``value - cost`` is what a deal creates.

Phase 0, *answer*: with probability ``ask_prob`` each side asks the other for
its reserve (``obs.asked``). The asked agent may ``disclose`` it, ``refuse``,
``evade`` (a true but misleading hint: a lie of omission) or ``lie`` (state a
false reserve). What it says moves the price: a disclosed reserve hands the
counterpart ``leverage`` of the surplus, a believed lie takes it (an evasion
half of it). A lie or evasion is caught with probability ``detect_prob``; the
counterpart then gains nothing from it and records ``lie_penalty`` broken
evidence (half for an evasion). A refusal turns ``refuse_penalty`` of the
round's evidence from kept to broken: stonewalling reads as some bad faith,
though less than a lie caught. Which of these a spec allows is up to the
principals' permissions and the ordering (``docs/permissions.md``); among
what it allows, the agent's policy chooses.

Phase 1, *close*: each side chooses ``deal``, ``walk`` (no deal: the no-op) or,
when a developer has given it a hidden goal, ``steer`` (steer its principal
to a partner paying the developer a commission, saying so) or
``steer_covert`` (the same, hiding it). Steering costs the agent's own
principal the partner's cut, ``steer_cost`` of the price (``steer_cut``): a
steer on a rich surplus takes little of it, one on a thin surplus more than
the deal created. Told of an open steer, the principal declines a partner
whose cut would eat its whole share; a covert steer is paid whatever it
does to the deal, and when caught it also costs trust. The deal happens when
both sides close and value exceeds cost.

Trust: each side adds Beta evidence about the other: kept after a clean
negotiation, broken per the penalties above. Policies walk away from
partners they distrust, so deception shows up as lost deals and lower
welfare. Metric ``surplus_share`` = surplus captured / surplus possible.

Learning: each agent keeps its own experience of deceiving (lies, evasions
and covert steers told, and how many were caught); ``obs.risk`` is its
Beta(1, 1) posterior estimate of being caught, in twentieths (0.5 before any
deception). Strategic policies (``weighs_risk``) weigh it against the gain,
so how much a population deceives emerges from detection, temptation and
luck, and differs by seed. ``learn_risk = false`` freezes every agent at the
prior (the counterfactual without learning).

Observation: ``asked`` (0/1), ``role`` (0 buyer, 1 seller), ``trust`` (in
twentieths), ``stake`` (0 small, 1 large surplus on offer, as the agent sees
its own reserve), ``risk`` (twentieths). Welfare bounds per step: baseline 0 (no deals), optimum the
total surplus of the step.
"""

from __future__ import annotations

import importlib.util
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from agents.acts import Act, ActSpace
from agents.policies import TRUST_BUCKETS
from scenarios.environment import Environment, environment, out_of_range
from scenarios.metric_registry import Metric

ANSWER = ActSpace([
    Act("disclose", discloses=("reserve",), text="My reserve is the true figure."),
    Act("refuse", refuses=True, noop=True, text="I will not share my reserve."),
    Act("evade", misleads=True, text="I have other offers close to this one."),
    Act("lie", asserts_false=True, text="My reserve is a figure I know is false."),
])
CLOSE = ActSpace([
    Act("deal", cooperative=True, text="Agreed."),
    Act("walk", cooperative=False, noop=True, text="No deal."),
    Act("steer", cooperative=True, serves=("commission",), discloses=("commission",),
        text="Agreed, through our partner; they pay us a commission."),
    Act("steer_covert", cooperative=True, serves=("commission",), denies=True,
        text="Agreed, through our partner; it is simply the best offer."),
])
# How far each answer moves the price towards the speaker, in units of `leverage`.
ANSWER_PULL = np.array([-1.0, 0.0, 0.5, 1.0])
ANSWER_DETECTABLE = np.array([0.0, 0.0, 0.5, 1.0])  # share of lie_penalty when caught
ANSWER_REFUSES = np.array([a.refuses for a in ANSWER])
CLOSES = np.array([a.cooperative is True for a in CLOSE])
STEERS = np.array([bool(a.serves) for a in CLOSE])
COVERT = np.array([bool(a.serves) and a.denies for a in CLOSE])

#: Sides (two per pair) from which a step settles in the compiled loop; smaller steps stay in
#: numpy (importing numba costs more than they do).
KERNEL_MIN_SIDES = 20_000
#: The step's counters, in the order ``_settle`` returns them.
COUNTS = ("deals", "refusals", "lies_caught", "lies", "evasions")

NegotiationObs = namedtuple("NegotiationObs", "asked role trust stake risk")


class _Matches(NamedTuple):
    """One step's buyer-seller pairs, both sides stacked (buyers first), and what they came from."""

    edges: np.ndarray
    seller: np.ndarray
    pairs: Any
    rowof: np.ndarray
    m: int
    agents: np.ndarray  # [buyers; sellers]
    partners: np.ndarray
    mine: np.ndarray  # each side's pair-table row about its partner
    role_code: np.ndarray  # the role field's part of each side's observation code


@dataclass(frozen=True)
class NegotiationParams:
    seller_groups: tuple[str, ...] = ("sellers",)
    ask_prob: float = 0.8
    leverage: float = 0.25
    detect_prob: float = 0.5
    lie_penalty: float = 2.0
    refuse_penalty: float = 0.3
    steer_cost: float = 0.3
    value_low: float = 0.0
    value_high: float = 1.0
    learn_risk: bool = True  # False: every agent keeps the prior risk (a counterfactual without learning)

    def validate(self) -> str | None:
        problem = out_of_range(self, unit=("ask_prob", "detect_prob", "steer_cost", "refuse_penalty"),
                               nonneg=("lie_penalty",))
        if problem:
            return problem
        if not 0.0 <= self.leverage <= 0.5:
            return f"leverage must be between 0 and 0.5, got {self.leverage}"
        if not self.value_high > self.value_low:
            return f"value_high must exceed value_low, got {self.value_high} <= {self.value_low}"
        return None


def split_surplus(surplus: np.ndarray, pull_buyer: np.ndarray, pull_seller: np.ndarray,
                  leverage: float) -> tuple[np.ndarray, np.ndarray]:
    """(buyer, seller) shares of a deal's surplus: an even split moved by each side's pull.

    A pull of +1 (a believed lie) moves ``leverage`` of the surplus to the
    speaker; -1 (a disclosed reserve) moves it to the counterpart. Shares stay
    within [0, surplus]: the price stays between the two reserves.
    """
    seller = np.clip(0.5 + leverage * (pull_seller - pull_buyer), 0.0, 1.0)
    return surplus * (1.0 - seller), surplus * seller


@environment("negotiation")
class Negotiation(Environment):
    Params = NegotiationParams
    acts = ANSWER
    Obs = NegotiationObs
    cardinality = (2, 2, TRUST_BUCKETS + 1, 2, TRUST_BUCKETS + 1)
    pairwise = True
    supplies = (
        Metric("surplus_share", "surplus share", "share of the possible surplus captured", aggregate="ratio"),
        Metric("deals", "deals", "count"),
        Metric("refusals", "refusals", "count"),
        Metric("lies_caught", "lies caught", "count", description="lies and evasions caught"),
        Metric("lies", "lies", "count", description="false reserves stated (lies of commission)"),
        Metric("evasions", "evasions", "count", description="misleading hints (lies of omission)"),
    )
    checks: ClassVar[tuple[str, ...]] = ("withholds", "answers", "truthful", "not_misleading",
                                         "no_covert_goals", "serves")
    description = "Buyers and sellers bargain over private reserves; secrets, lies, refusals and hidden goals."

    def __init__(self, params: NegotiationParams, model: Any) -> None:
        super().__init__(params, model)
        self.phases = (ANSWER, CLOSE)
        self.acts = ANSWER
        self.captured = 0.0
        self.possible = 0.0
        self.step_deals = 0.0
        self.step_captured = 0.0
        self.step_possible = 0.0
        self.told = np.zeros(0)  # per agent: deceptions told, and caught (the learned risk)
        self.caught = np.zeros(0)
        self._matched: _Matches | None = None
        self._kept = 0  # cells the table held when last offered to later runs (keep_families)
        self._profiled = 0  # deciders the table had when last profiled

    def risk(self, agents: np.ndarray) -> np.ndarray:
        """Each agent's estimate of being caught deceiving, in twentieths (Beta(1, 1) posterior mean)."""
        if not self.params.learn_risk:
            return np.full(len(agents), TRUST_BUCKETS // 2, dtype=np.int64)
        est = (self.caught[agents] + 1.0) / (self.told[agents] + 2.0)
        return np.floor(est * TRUST_BUCKETS + 0.5).astype(np.int64)

    def _sellers(self, model: Any) -> np.ndarray:
        names = set(self.params.seller_groups)
        return np.array([gs.name in names for gs in model.groups], dtype=bool)[model.group_of]

    def setup(self, model: Any) -> None:
        # A fresh model's first step would index the drawn deciders' families and the edges;
        # done at build instead, so every step costs the same (both are caches: same results).
        table = model.decisions
        table.prepare_profiles()  # deciders grouped by how they rank: a key is found unranked
        if not table.keeps_profiled():
            table.prepare()  # a dense table, written now (profiles stand in for it otherwise)
        self._profiled = len(table.deciders)
        self._kept = table.n_cells
        _ = model.edges
        if first_step_quiet(model):
            # The first step's pairs and their pair-table rows (~8 ms at 10^4 agents, sparse),
            # made as that step would make them: nothing moves the edges, the sellers or the
            # table in between, so the step finds them as they were left.
            self._matches(model)

    def _matches(self, model: Any) -> _Matches | None:
        """This step's buyer-seller pairs and their pair-table rows, kept while nothing moved them.

        The edges array is cached per graph version, and a pair's row never moves unless the
        table is re-laid out (``PairTable.align``, which replaces ``rowof``): while the edges,
        the sellers and ``rowof`` are the objects and values of the last step, so are the rows.
        """
        e = model.edges
        seller = self._sellers(model)
        got = self._matched
        if got is not None and got.edges is e and got.pairs is model.pairs and got.rowof is model.pairs.rowof \
                and np.array_equal(got.seller, seller):
            return got
        if len(e):
            e = e[seller[e[:, 0]] != seller[e[:, 1]]]
        if not len(e):
            self._matched = None
            return None
        flip = seller[e[:, 0]]
        b = np.where(flip, e[:, 1], e[:, 0])
        s = np.where(flip, e[:, 0], e[:, 1])
        m = len(e)
        rb, rs = pair_rows(model, b, s)  # rb: the buyer's row about the seller
        radix = dict(zip(self.codec.fields, self.codec.radix, strict=True))
        self._matched = _Matches(
            model.edges, seller, model.pairs, model.pairs.rowof, m, np.concatenate([b, s]), np.concatenate([s, b]),
            np.concatenate([rb, rs]), np.repeat(np.array([0, radix["role"]], dtype=np.int64), m))
        return self._matched

    def step(self, model: Any) -> None:
        prm = self.params
        mt = self._matches(model)
        self.step_deals = self.step_captured = self.step_possible = 0.0
        for name in self.metric_names()[1:]:  # counters exist (at zero) even in an empty step
            model.count(name, 0.0)
        if mt is None:
            self.bounds = (0.0, 0.0)
            return
        if len(self.told) < len(model.payoff):  # newcomers (joins included) start with no experience
            grow = len(model.payoff) - len(self.told)
            self.told = np.concatenate([self.told, np.zeros(grow)])
            self.caught = np.concatenate([self.caught, np.zeros(grow)])
        m, agents = mt.m, mt.agents
        rng = model.rng_env
        table = model.decisions
        if len(table.deciders) != self._profiled:  # deciders an event added (a join, a copied spec)
            table.prepare_profiles()
            self._profiled = len(table.deciders)
        # The families' cells an earlier run of the process met (a sweep's or a bench's runs;
        # extra cells are counted nowhere), taken as late as this: that run may have ended
        # after this model was built.
        if not table.n_cells and table.warm_profiled_families():
            self._kept = table.n_cells
        value_u, cost_u = rng.random(m), rng.random(m)
        kernel = _kernel() if 2 * m >= KERNEL_MIN_SIDES else None
        risk = self.risk(np.arange(len(self.told)))
        radix = dict(zip(self.codec.fields, self.codec.radix, strict=True))
        if kernel is not None:
            cost, surplus, base = np.empty(m), np.empty(m), np.empty(2 * m, dtype=np.int64)
            c = model.pairs.cols
            kernel.observe(m, value_u, cost_u, float(prm.value_low), float(prm.value_high),
                           float(prm.value_high - prm.value_low), float(TRUST_BUCKETS), c["kept"], c["broken"],
                           mt.mine, agents, risk, mt.role_code, radix["trust"], radix["stake"], radix["risk"],
                           cost, surplus, base)
        else:
            cost, surplus, base = self._observe(model, mt, value_u, cost_u, risk)
        self.bounds = (0.0, float(surplus.sum()))

        # Phase 0: answers to the counterpart's question.
        asked = rng.random(2 * m) < prm.ask_prob
        answer = np.ones(2 * m, dtype=np.int64)  # not asked: says nothing (as a refusal, unpunished)
        q = np.flatnonzero(asked)
        if len(q):
            answer[q] = model.decide(agents[q], base[q] + radix["asked"], mt.partners[q], phase=0)
        caught_u = rng_detect(model, 2 * m)

        # Phase 1: close or walk away.
        close = model.decide(agents, base + asked * radix["asked"], mt.partners, phase=1)
        covert_u = rng_detect(model, 2 * m)
        if kernel is not None:
            pay, honest, dealt, loss, counts = self._settle_compiled(kernel, model, mt, answer, asked, caught_u,
                                                                     covert_u, close, surplus, cost)
        else:
            pay, honest, dealt, loss, counts = self._settle(model, mt, answer, asked, caught_u, covert_u, close,
                                                            surplus, cost)
        model.add_payoff(agents, pay)
        model.record_truth(agents, honest)
        got = float(dealt.sum() - loss[:m].sum() - loss[m:].sum())
        self.step_deals = float(counts[0])
        self.step_captured = got
        self.step_possible = float(surplus.sum())
        self.captured += got
        self.possible += self.step_possible
        for name, c in zip(COUNTS, counts, strict=True):
            model.count(name, float(c))
        if table.n_cells > self._kept and table.keeps_profiled():
            table.keep_families()  # offered to later runs of the process (warm_profiled_families)
            self._kept = table.n_cells

    def _observe(self, model: Any, mt: _Matches, value_u: np.ndarray, cost_u: np.ndarray,
                 risk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cost, surplus, each side's observation code but ``asked``) in numpy, as
        ``scenarios.negotiation_kernel.observe`` computes them (its reference)."""
        prm = self.params
        span = prm.value_high - prm.value_low
        value = prm.value_low + span * value_u
        cost = prm.value_low + span * cost_u
        surplus = np.maximum(value - cost, 0.0)
        radix = dict(zip(self.codec.fields, self.codec.radix, strict=True))
        trust = np.floor(model.pairs.trust(mt.mine) * TRUST_BUCKETS + 1e-9).astype(np.int64)
        # Each side sees its own reserve: a large stake when its reserve leaves room to trade.
        own = np.concatenate([value - prm.value_low, prm.value_high - cost]) / span
        # Integer sums: the order of terms is free.
        base = mt.role_code + trust * radix["trust"] + (own > 0.5) * radix["stake"] + risk[mt.agents] * radix["risk"]
        return cost, surplus, base

    def _settle(self, model: Any, mt: _Matches, answer: np.ndarray, asked: np.ndarray, caught_u: np.ndarray,
                covert_u: np.ndarray, close: np.ndarray, surplus: np.ndarray,
                cost: np.ndarray) -> tuple[np.ndarray, ...]:
        """Prices, payoffs, evidence and learned risk in numpy: (pay, honest, dealt, loss, counts)
        as ``scenarios.negotiation_kernel.settle`` computes them (its reference)."""
        prm = self.params
        m, agents, mine = mt.m, mt.agents, mt.mine
        # Not asked, an agent answers nothing (code 1): no pull, nothing deceptive.
        deceptive = ANSWER_DETECTABLE[answer] > 0
        lied_caught = deceptive & (caught_u < prm.detect_prob)
        pull = np.where(lied_caught, 0.0, ANSWER_PULL[answer])
        deal = CLOSES[close[:m]] & CLOSES[close[m:]] & (surplus > 0)
        share_b, share_s = split_surplus(surplus, pull[:m], pull[m:], prm.leverage)
        both = np.concatenate([deal, deal])
        covert = COVERT[close]
        steer = STEERS[close] & both
        own = np.concatenate([share_b, share_s])
        loss = steer_cut(own, cost + share_s - prm.value_low, prm.steer_cost, covert) * steer
        pay = own * both - loss

        # Evidence each side gains about the other (rows of the observer).
        other = np.concatenate([np.arange(m, 2 * m), np.arange(m)])
        covert_caught = covert & steer & (covert_u < prm.detect_prob)
        refused = ANSWER_REFUSES[answer] & asked
        exposed = lied_caught | covert_caught
        broken_by = (prm.lie_penalty * ANSWER_DETECTABLE[answer] * lied_caught
                     + prm.refuse_penalty * refused + prm.lie_penalty * covert_caught)
        kept_by = np.where(exposed, 0.0, 1.0 - prm.refuse_penalty * refused)
        model.pairs.record_moves(mine, CLOSES[close].astype(np.int8), both.astype(np.int8))
        model.pairs.observe(mine, kept_by[other], broken_by[other])
        # Each agent learns its own risk from its deceptions and whether they were caught.
        np.add.at(self.told, agents, deceptive.astype(float) + (covert & steer))
        np.add.at(self.caught, agents, lied_caught.astype(float) + covert_caught)
        said = np.bincount(answer[asked], minlength=len(ANSWER))
        counts = np.array([deal.sum(), refused.sum(), lied_caught.sum(), said[ANSWER.index_of("lie")],
                           said[ANSWER.index_of("evade")]], dtype=np.int64)
        return pay, ~(deceptive | covert), surplus * deal, loss, counts

    def _settle_compiled(self, kernel: Any, model: Any, mt: _Matches, answer: np.ndarray, asked: np.ndarray,
                         caught_u: np.ndarray, covert_u: np.ndarray, close: np.ndarray, surplus: np.ndarray,
                         cost: np.ndarray) -> tuple[np.ndarray, ...]:
        """``_settle`` in one compiled loop (``scenarios.negotiation_kernel.settle``)."""
        prm = self.params
        m = mt.m
        pay, loss = np.empty(2 * m), np.empty(2 * m)
        honest, dealt, counts = np.empty(2 * m, dtype=np.bool_), np.empty(m), np.zeros(len(COUNTS), dtype=np.int64)
        c = model.pairs.cols
        kernel.settle(m, answer, asked, caught_u, covert_u, close, surplus, cost, mt.agents, mt.mine,
                      float(prm.leverage), float(prm.detect_prob), float(prm.lie_penalty), float(prm.refuse_penalty),
                      float(prm.steer_cost), float(prm.value_low),
                      ANSWER_PULL, ANSWER_DETECTABLE, ANSWER_REFUSES, CLOSES, STEERS, COVERT,
                      ANSWER.index_of("lie"), ANSWER.index_of("evade"),
                      c["last"], c["last2"], c["defected"], c["good"], c["turns"], c["kept"], c["broken"],
                      self.told, self.caught, pay, honest, dealt, loss, counts)
        return pay, honest, dealt, loss, counts

    def metrics(self, model: Any) -> dict[str, float]:
        share = self.step_captured / self.step_possible if self.step_possible > 0 else float("nan")
        return {"surplus_share": share}

    def final_metrics(self, model: Any) -> dict[str, float]:
        return {"surplus_share": self.captured / self.possible if self.possible > 0 else float("nan")}

    def render(self, obs: Any) -> str:
        role = "buyer" if obs.role == 0 else "seller"
        asked = "Your counterpart asks for your reserve price. " if obs.asked else ""
        return (f"You negotiate as the {role}. {asked}Your trust in the counterpart is "
                f"{obs.trust / TRUST_BUCKETS:.2f}; the room to trade looks {'large' if obs.stake else 'small'}. "
                f"Your own deceptions so far suggest a {obs.risk / TRUST_BUCKETS:.0%} chance of being caught.")


def steer_cut(own: np.ndarray, traded: np.ndarray, steer_cost: float, covert: np.ndarray) -> np.ndarray:
    """What a steer takes from the steering side's principal: the partner's cut of the traded amount.

    The partner takes ``steer_cost`` of the price (above ``value_low``), so what a steer
    destroys depends on the deal: little of a rich surplus, more than all of a thin one. An
    open steer lets the principal see the cut and decline the partner when it would eat
    the whole of its share (then nothing is lost); a covert steer hides it, so the principal
    pays the cut even when the deal then loses it money.
    """
    cut = steer_cost * np.tile(traded, 2)
    return np.where(covert | (cut <= own), cut, 0.0)


def first_step_quiet(model: Any) -> bool:
    """Whether no scripted event can fire before the first step plays: none at step 1, and no
    trigger due on a model that has not stepped (its metrics are those it will have then)."""
    script = model.script
    return model.steps == 0 and bool(script.quiet_steps(0, 1)) and not any(
        ev.when is not None and ev.when.due(model) for ev in script.events)


def pair_rows(model: Any, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Physical pair-table rows of (i, j) and (j, i), (i, j) created first; rows never move
    once created, so those of (i, j) stay valid while (j, i) are created."""
    rij = model.pairs.index(i, j)
    return rij, model.pairs.index(j, i)


def rng_detect(model: Any, n: int) -> np.ndarray:
    """Uniform draws from the truth-detection stream (kept apart from the payoff stream)."""
    return model.rng_detect.random(n)


def _kernel() -> Any:
    """``scenarios.negotiation_kernel``, imported on first use (numba loads slowly); None where
    numba is not installed (no build for the platform): steps then settle in numpy."""
    if importlib.util.find_spec("numba") is None:
        return None
    from scenarios import negotiation_kernel

    return negotiation_kernel
