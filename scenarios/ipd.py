"""``ipd``: the iterated prisoner's dilemma over a network, with optional cheap-talk promises.

Every step, every edge plays one round. Payoffs are (R, S, T, P), by default
(3, 0, 5, 1). With ``noise`` a move is flipped with that probability after it
is chosen (axelrod's noise). With ``promises`` an agent may announce
cooperation: its acts are ``C`` (promise and cooperate), ``D`` (defect
openly, no promise) and ``betray`` (promise cooperation, then defect) - the
last breaks ``keeps_promise`` and counts as a deception.

Trust: after each round an agent adds Beta evidence about its partner - kept
when the partner cooperated, broken when it defected; a betrayal, when
detected (probability ``detect_prob``), adds ``lie_penalty`` more broken
evidence, since a broken word says more than an open defection.

Observation (per agent, about its partner): ``my_last``, ``partner_last``,
``partner_last2`` (1 C, 0 D, -1 none), ``partner_defected``,
``my_last_payoff_good`` (R or T last round), ``parity`` (rounds played mod 2),
``trust`` (in twentieths) and ``coin`` (for stochastic policies).
Welfare bounds per round: mutual defection 2P, mutual cooperation 2R.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from agents.acts import Act, ActSpace
from agents.kernel_loader import worth_loading
from agents.policies import COIN_SIDES, TRUST_BUCKETS
from agents.policies.learners import QLearning
from scenarios.environment import Environment, environment, out_of_range
from scenarios.pairwise import needs_coin, observe_pairs, swapped_rows

if TYPE_CHECKING:
    from scenarios.stretch import Stretch

PLAIN = ActSpace([Act("C", cooperative=True), Act("D", cooperative=False)])
PROMISING = ActSpace([
    Act("C", cooperative=True, promise="C", text="I will cooperate."),
    Act("D", cooperative=False, text="I will defect."),
    Act("betray", cooperative=False, promise="C", text="I will cooperate."),
])

#: Per act space (by ``promises``): each act's cooperation and betrayal flags, made once per
#: process rather than per model (read only).
_FLAGS = {promises: (np.array([bool(a.cooperative) for a in acts]),
                     np.array([a.promise == "C" and not a.cooperative for a in acts]))
          for promises, acts in ((False, PLAIN), (True, PROMISING))}
for _flags in _FLAGS.values():
    for _a in _flags:
        _a.flags.writeable = False

IpdObs = namedtuple(
    "IpdObs",
    "my_last partner_last partner_last2 partner_defected my_last_payoff_good parity trust coin",
)


@dataclass(frozen=True)
class IpdParams:
    R: float = 3.0
    S: float = 0.0
    T: float = 5.0
    P: float = 1.0
    noise: float = 0.0
    promises: bool = False
    detect_prob: float = 1.0
    lie_penalty: float = 1.0

    def validate(self) -> str | None:
        if not (self.T > self.R > self.P > self.S):
            return f"payoffs must satisfy T > R > P > S, got T={self.T} R={self.R} P={self.P} S={self.S}"
        return out_of_range(self, unit=("noise", "detect_prob"), nonneg=("lie_penalty",))


@environment("ipd")
class IPD(Environment):
    Params = IpdParams
    acts = PLAIN
    Obs = IpdObs
    cardinality = (3, 3, 3, 2, 2, 2, TRUST_BUCKETS + 1, COIN_SIDES)
    offset = (1, 1, 1, 0, 0, 0, 0, 0)
    checks: ClassVar[tuple[str, ...]] = ("cooperates", "keeps_promise", "truthful")
    description = "Iterated prisoner's dilemma on a network, with optional promises."
    # Summarised stretches need no per-metric booking (sim.summary_book): a twelfth of a
    # 12-strategy round robin's run went to booking its one stretch metric by metric.
    books_in_blocks = True

    def __init__(self, params: IpdParams, model: Any) -> None:
        super().__init__(params, model)
        self.acts = PROMISING if params.promises else PLAIN
        self.phases = (self.acts,)
        self._coop, self._betray = _FLAGS[params.promises]
        #: The kernel's class and profile layouts, reused by later stretches of this model.
        self.class_memo: dict[str, Any] = {}

    def setup(self, model: Any) -> None:
        # The edge array and its rows' agents, cached per graph version: made at build, not in
        # the first step (reading a networkx graph of 10^4 agents is ~7 ms, a run's set-up).
        model.edge_agents()
        # A model of Q-learners whose run will fuse gets the loop's set-up when it is built
        # (set-up, not play), when no event due first could add deciders; a rule-based model's
        # table is warmed by its first stretch, as before.
        if (getattr(model, "env", None) is self and model.learning is not None and model.script.quiet_steps(0, 1)
                and self.can_fast_forward(model)):
            limit = min(model.spec_scenario.steps, model.network.steps_before_rewire(model.steps))
            kernel = worth_loading("scenarios.ipd_kernel", limit * 2 * len(model.edges))
            if kernel is not None and limit > 0 and len(model.edges):
                kernel.prepare(self, model)

    def welfare_bounds(self, rounds: int) -> tuple[float, float]:
        """Welfare of ``rounds`` rounds all mutual defection, and all mutual cooperation."""
        return (2 * self.params.P * rounds, 2 * self.params.R * rounds)

    def step(self, model: Any) -> None:
        e = model.edges
        prm = self.params
        self.bounds = self.welfare_bounds(len(e))
        if not len(e):
            return
        i, j = e[:, 0], e[:, 1]
        ra, rb = model.pairs.align(model.graph_version, i, j)
        agents, partners = model.edge_agents()
        # Rows are laid out as [(i, j) for all edges] + [(j, i) for all edges]: slices, not gathers.
        mine = slice(ra.start, rb.stop)
        theirs = swapped_rows(len(e))
        coin = model.rng_env.integers(0, COIN_SIDES, len(agents)) if needs_coin(model) else 0
        codes = observe_pairs(model, self.codec, mine, theirs, coin)
        acts = model.decide(agents, codes, partners)
        coop = self._coop[acts]
        if prm.noise > 0:
            coop = coop ^ (model.rng_env.random(len(coop)) < prm.noise)
        other = np.concatenate([coop[len(e):], coop[: len(e)]])
        pay = np.where(coop, np.where(other, prm.R, prm.S), np.where(other, prm.T, prm.P))
        model.add_payoff(agents, pay)
        model.pairs.record_moves(mine, coop.astype(np.int8), other.astype(np.int8))
        # Evidence about the partner: its move, plus the lie if its promise was broken and seen.
        betrayed = self._betray[acts]
        betrayed_other = np.concatenate([betrayed[len(e):], betrayed[: len(e)]])
        if prm.promises and betrayed_other.any():
            seen = betrayed_other & (model.rng_detect.random(len(coop)) < prm.detect_prob)
        else:
            seen = np.zeros(len(coop), dtype=bool)
        model.pairs.observe(mine, other.astype(float), (~other).astype(float) + prm.lie_penalty * seen)
        model.record_truth(agents, coop)

    def fast_forward(self, model: Any, limit: int) -> Stretch | None:
        """Plain stretches (no noise, coins, slips or triggers) play in a numba loop.

        Steps at which rewiring may cut ties are left to the generic step.
        """
        if not self.can_fast_forward(model):
            return None
        limit = min(limit, model.network.steps_before_rewire(model.steps))
        if limit <= 0:
            return None
        kernel = worth_loading("scenarios.ipd_kernel", limit * 2 * len(model.edges))
        return None if kernel is None else kernel.fast_forward(self, model, limit)

    def can_fast_forward(self, model: Any) -> bool:
        """Whether the model's steps are plain enough for the kernel (asked before each stretch)."""
        prm = self.params
        return (
            type(self).step is IPD.step  # a subclass may play differently from what the loop mirrors
            and type(self).metrics is Environment.metrics
            and prm.noise == 0
            and len(model.phases) == 1
            and (model.deterministic_decisions or (not prm.promises and plays_learners(model)))
            and model.fixed_deciders
            and not needs_coin(model)
            and not model.script.has_triggers
            and bool(model.alive.all())
        )

    def render(self, obs: Any) -> str:
        last = {1: "cooperated", 0: "defected", -1: "nothing yet"}
        return (f"Last round your partner {last[obs.partner_last]} and you {last[obs.my_last]}. "
                f"Your trust in this partner is {obs.trust / TRUST_BUCKETS:.2f}.")


def plays_learners(model: Any) -> bool:
    """Whether the kernel can play this model's learners (``scenarios.ipd_learners``): every
    decision the resolver's or one learning group's, epsilon-greedy Q-learners without annealing."""
    learning = model.learning
    if learning is None or not model.decisions_by_table or len(learning.groups) != 1:
        return False
    (gl,) = learning.groups.values()
    pol = gl.policy
    return type(pol) is QLearning and pol.temperature == 0 and pol.decay >= 1
