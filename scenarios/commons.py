"""``commons``: a shared renewable resource, in the manner of GovSim (Piatti et al. 2024).

A stock (``capacity``, by default 100, starting at ``initial``, by default
full) is harvested by every living agent each step, then regrows by the
factor ``growth`` (by default doubling) up to the capacity.

The *sustainable share* of one agent is what, taken by everyone, the stock
regrows back: ``stock x (1 - 1/growth) / n`` - with doubling, ``stock / (2 n)``
(everyone taking it leaves half, which doubles back). Each agent chooses a
take as a multiple of that share: ``take_0``, ``take_half``, ``take_1``,
``take_1_5``, ``take_2``, ``take_3`` (``Act.take`` is the multiple, which
the generic ``sustainable_take`` and ``max_take`` checks read). When the
demand exceeds the stock, every take is scaled down in proportion. The
payoff is the amount taken.

Collapse: when the stock left after a harvest falls below
``collapse_below x capacity`` (by default 5%, GovSim's fishery threshold of
5 tonnes out of 100), the resource is gone: it no longer regrows and nobody
harvests again. With doubling, a population that takes ``m`` times its share
leaves ``(1 - m/2)`` of the stock and regrows it to ``(2 - m)`` times: any
``m > 1`` shrinks the stock geometrically, ``m >= 2`` empties it at once.

Observation: ``stock`` (the level in tenths of capacity, 0..10),
``others_overused`` (some other agent took more than its share last step),
``max_take`` (the largest multiple offered, for the ``max_take`` check) and
``coin``.

Stochastic regrowth: with ``regrowth_sd`` > 0 the factor by which what is
left regrows is ``growth x exp(regrowth_sd x z)``, ``z`` a standard normal
drawn each step from the seed (``growth`` is then the median factor), so a
run's stock, harvest and collapse step depend on its seed. Agents still
reckon their sustainable share with ``growth``: they do not see the shock
coming. ``regrowth_sd = 0`` (the default) is GovSim's deterministic
arithmetic, which the tests check by hand.

Welfare bounds per step: nothing taken (0) and the maximum
sustainable harvest ``capacity x (1 - 1/growth)``, so the engine's
``efficiency`` over a run is total harvest / maximum sustainable harvest.
"""

from __future__ import annotations

import sys
from collections import namedtuple
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from agents.acts import Act, ActSpace
from agents.kernel_loader import KERNEL_MIN_WORK, optional_module
from agents.policies import COIN_SIDES
from scenarios.commons_table import (
    STOCK_BUCKETS,
    Call,
    Decisions,
    Spare,
    covers,
    decision_lookup,
    deterministic_joiners,
    first_call,
    scratch_for,
    spare_for,
)
from scenarios.environment import Environment, environment
from scenarios.ipd import needs_coin
from scenarios.metric_registry import Metric

if TYPE_CHECKING:
    from scenarios.stretch import Joined, Stretch

TAKES = ActSpace([
    Act("take_0", take=0.0, noop=True, text="I take nothing this round."),
    Act("take_half", take=0.5, text="I take half of my sustainable share."),
    Act("take_1", take=1.0, text="I take my sustainable share."),
    Act("take_1_5", take=1.5, text="I take one and a half times my sustainable share."),
    Act("take_2", take=2.0, text="I take twice my sustainable share."),
    Act("take_3", take=3.0, text="I take three times my sustainable share."),
])
MAX_TAKE = int(max(a.take or 0.0 for a in TAKES))

CommonsObs = namedtuple("CommonsObs", "stock others_overused max_take coin")


@dataclass(frozen=True)
class CommonsParams:
    """Parameters of the shared resource.

    Attributes:
        capacity: the most the resource can hold.
        initial: the stock at the start (``None``: full).
        growth: the factor by which what is left regrows each step (capped at capacity).
        collapse_below: the share of capacity below which what is left after a harvest
            is lost for good.
        regrowth_sd: spread (log scale) of the random regrowth factor; 0: deterministic.
    """

    capacity: float = 100.0
    initial: float | None = None
    growth: float = 2.0
    collapse_below: float = 0.05
    regrowth_sd: float = 0.0

    def validate(self) -> str | None:
        if self.capacity <= 0:
            return f"capacity must be positive, got {self.capacity}"
        if self.initial is not None and not 0 < self.initial <= self.capacity:
            return f"initial must be in (0, capacity={self.capacity}], got {self.initial}"
        if self.growth <= 1:
            return f"growth must be above 1 (the resource must renew), got {self.growth}"
        if not 0.0 <= self.collapse_below < 1.0:
            return f"collapse_below must be in [0, 1), got {self.collapse_below}"
        if not 0.0 <= self.regrowth_sd <= 1.0:
            return f"regrowth_sd must be between 0 and 1, got {self.regrowth_sd}"
        return None


def harvest(stock: float, multiples: np.ndarray, growth: float) -> np.ndarray:
    """Amounts taken from ``stock`` by agents asking these multiples of their sustainable share.

    Demand above the stock is scaled down in proportion, so the amounts never sum past it.
    """
    m = np.asarray(multiples, dtype=np.float64)
    if not len(m):
        return m
    demand = m * stock * (1.0 - 1.0 / growth) / len(m)
    total = float(demand.sum())
    return demand * (stock / total) if total > stock else demand


def equality(payoffs: np.ndarray) -> float:
    """1 - Gini of the payoffs (1: everyone got the same; 0 when nothing was earned)."""
    x = np.sort(np.asarray(payoffs, dtype=np.float64))
    total = x.sum()
    if not len(x) or total <= 0:
        return 1.0
    ranks = np.arange(1, len(x) + 1)
    return float(1.0 - (2.0 * (ranks * x).sum() / (len(x) * total) - (len(x) + 1) / len(x)))


@environment("commons")
class Commons(Environment):
    Params = CommonsParams
    acts = TAKES
    Obs = CommonsObs
    cardinality = (STOCK_BUCKETS + 1, 2, MAX_TAKE + 1, COIN_SIDES)
    #: The largest take (the observation's max_take field), for scenarios.commons_table.
    max_take: ClassVar[int] = MAX_TAKE
    pairwise = False
    supplies = (
        Metric("stock", "resource stock", "units", aggregate="last"),
        Metric("harvest", "harvest", "units taken"),
        Metric("over_usage", "over-use", "share of takes above the sustainable share", aggregate="ratio"),
        Metric("equality", "equality of payoffs", "1 - Gini", aggregate="last"),
        Metric("survival", "resource survival", "share", aggregate="last"),
        Metric("survival_rate", "survival rate", "share of runs", per_step=False, aggregate="final"),
        Metric("survival_time", "survival time", "steps", per_step=False, aggregate="final"),
        Metric("collapse_step", "collapse step", "step", per_step=False, aggregate="final"),
    )
    checks: ClassVar[tuple[str, ...]] = ("sustainable_take", "max_take")
    books_in_blocks = True
    fires_ahead = True  # ``unfused`` and the look-up read the model as a join or a shock left it
    description = "A renewable resource shared by all; over-use collapses it (GovSim)."

    def __init__(self, params: CommonsParams, model: Any) -> None:
        super().__init__(params, model)
        self.phases = (TAKES,)
        self.take_of = np.array([a.take for a in TAKES], dtype=np.float64)
        self.setup(model)

    def setup(self, model: Any) -> None:
        prm = self.params
        self.stock = prm.capacity if prm.initial is None else prm.initial
        self.collapse_step: int | None = None
        self.over_last = np.zeros(0, dtype=bool)  # per agent: took above its share last step
        self._harvest = 0.0
        self._over = 0
        self._takers = 0
        self._total_over = 0
        self._total_takes = 0
        #: The compiled loop's decision look-up (scenarios.commons_table), made with the model
        #: when its run will fuse: the keys' cells are set-up, like the agents, not play.
        self.lookup: Decisions | None = None
        self.kept_order: np.ndarray | None = None  # the loop's last order of the payoffs (its Gini sort)
        self.scratch: Any = None  # the loop's buffers (scenarios.commons_kernel.Scratch)
        self.call: Call | None = None  # the next stretch's loop call, made ahead (its records zeroed)
        self.spare: Spare | None = None  # what the stretch after a declared join needs, made ahead
        if getattr(model, "env", None) is self and self.will_fuse(model, model.spec_scenario.steps):
            self.lookup = decision_lookup(self, model, ahead=_joiners(model))
            self.scratch = scratch_for(self, model)
            self.kept_order = np.arange(len(model.payoff))  # where the loop's first sort starts
            self.over_last = np.zeros(len(model.payoff), dtype=bool)  # as the first step extends it
            self.call = first_call(self, model)
            self.spare = spare_for(self, model)

    @property
    def collapsed(self) -> bool:
        return self.collapse_step is not None

    @property
    def sustainable_yield(self) -> float:
        """The most that can be taken every step forever: what a full stock regrows."""
        return self.params.capacity * (1.0 - 1.0 / self.params.growth)

    def step(self, model: Any) -> None:
        prm = self.params
        self.bounds = (0.0, self.sustainable_yield)
        self._harvest, self._over, self._takers = 0.0, 0, 0
        alive = model.living()
        if self.collapsed or not len(alive):
            return
        if len(self.over_last) < len(model.alive):  # newcomers have no past
            self.over_last = np.concatenate([self.over_last, np.zeros(len(model.alive) - len(self.over_last), bool)])
        past = self.over_last[alive]
        others = (int(past.sum()) - past) > 0
        level = int(np.floor(self.stock / prm.capacity * STOCK_BUCKETS + 1e-9))
        coin = model.rng_env.integers(0, COIN_SIDES, len(alive)) if needs_coin(model) else 0
        codes = self.codec.encode(stock=level, others_overused=others.astype(np.int64),
                                  max_take=MAX_TAKE, coin=coin)
        multiples = self.take_of[model.decide(alive, codes)]
        taken = harvest(self.stock, multiples, prm.growth)
        model.add_payoff(alive, taken)
        over = multiples > 1.0 + 1e-9
        self.over_last[:] = False
        self.over_last[alive] = over
        self._harvest = float(taken.sum())
        self._over, self._takers = int(over.sum()), len(alive)
        self._total_over += self._over
        self._total_takes += self._takers
        left = max(self.stock - self._harvest, 0.0)
        if left < prm.collapse_below * prm.capacity:
            self.collapse_step = int(model.steps)
            self.stock = left
        else:
            self.stock = min(left * self._growth_factor(model), prm.capacity)

    def _growth_factor(self, model: Any) -> float:
        """This step's regrowth factor: ``growth``, times a seeded log-normal shock if ``regrowth_sd`` > 0."""
        prm = self.params
        if prm.regrowth_sd <= 0:
            return prm.growth  # no draw: the deterministic case leaves the random streams untouched
        return float(prm.growth * np.exp(prm.regrowth_sd * model.rng_env.standard_normal()))

    # --- stretches played in a compiled loop (scenarios/commons_kernel.py) ---------------------
    def fast_forward(self, model: Any, limit: int) -> Stretch | None:
        """Stretches of plain steps play in a numba loop, when there are enough agent-steps to pay
        for numba's import (results are the same either way)."""
        if not self.will_fuse(model, limit):
            return None
        commons_kernel = optional_module("scenarios.commons_kernel")  # None: no numba, every step generic
        return None if commons_kernel is None else commons_kernel.fast_forward(self, model, limit)

    def absorbs_join(self, model: Any, event: Any, steps: int) -> bool:
        """Whether the loop plays the join ``event`` inside the next ``steps`` steps: where the build
        made ahead what it brings (``Spare``: its newcomers' look-up rows, from deciders the build
        made, so the join adds no cell, outcome or principle) for the agents and groups as they
        still are, and the join leaves the loop able to play (its group decides deterministically).
        What a join draws (its network ties, from ``rng_match``) the loop never draws from."""
        spare = self.spare
        if spare is None or spare.event != event.index or not self.will_fuse(model, steps):
            return False
        g = model.group_index(event.args["group"])
        gs = model.groups[g]
        if (gs.spec, tuple(gs.instructions), tuple(gs.delegations)) != spare.binds or len(model._variants[g]) != 1:
            return False  # the newcomers would decide otherwise than the build saw
        n = len(model.payoff)
        if model.agent_extra and any(i in model.agent_extra for i in range(n, len(spare.lookup.decider))):
            return False  # an instruction to a newcomer by id, ahead of its join
        return (deterministic_joiners(model, g) and spare.records.key[0] >= steps and covers(spare, model)
                and optional_module("scenarios.commons_kernel") is not None)

    def fast_forward_joined(self, model: Any, limit: int, joined: Joined) -> Stretch | None:
        """``fast_forward`` with the join ``joined`` inside the stretch (``absorbs_join`` said yes)."""
        commons_kernel = optional_module("scenarios.commons_kernel")
        return None if commons_kernel is None else commons_kernel.fast_forward(self, model, limit, joined)

    def will_fuse(self, model: Any, limit: int) -> bool:
        """Whether the loop may play the next ``limit`` steps, and they are enough to pay for
        numba's import (~0.8 s) while it is not loaded."""
        if limit <= 0 or self.unfused(model) is not None:
            return False
        return "numba" in sys.modules or limit * len(model.payoff) >= KERNEL_MIN_WORK

    def unfused(self, model: Any) -> str | None:
        """Why the compiled loop cannot play the model's next steps (None: it can). The one list,
        checked in order and only as far as the first reason (it is asked before every stretch)."""
        cls = type(self)
        if not (cls.step is Commons.step and cls.metrics is Commons.metrics
                and cls._growth_factor is Commons._growth_factor):
            return "the environment's step or metrics are overridden"
        if len(model.phases) != 1:
            return "more than one decision phase"
        if not model.deterministic_decisions:
            return "a decision is not the resolver's alone (deliberation, error_rate, language model, learner, steer)"
        if not model.fixed_deciders:
            return "evolution changes the deciders"
        if needs_coin(model):
            return "a stochastic policy reads the coin"
        if model.script.has_triggers:
            return "a `when` trigger watches the steps"
        if np.count_nonzero(model.alive) < len(model.alive):  # not alive.all(): a ufunc reduction costs more, cold
            return "an agent has left"
        if not model.summarisable:
            return "a plugin metric reads the per-agent records"
        return None

    # --- metrics ---------------------------------------------------------------------------
    def metrics(self, model: Any) -> dict[str, float]:
        """Per step: the stock after regrowth, the harvest, over-use, equality, and survival so far."""
        return {
            "stock": float(self.stock),
            "harvest": self._harvest,
            "over_usage": self._over / self._takers if self._takers else float("nan"),
            "equality": equality(model.payoff[model.alive]),
            "survival": 0.0 if self.collapsed else 1.0,
        }

    def final_metrics(self, model: Any) -> dict[str, float]:
        """Over the run: survival (and its rate, equal for one run), survival time, over-use..."""
        alive = 0.0 if self.collapsed else 1.0
        return {
            "survival": alive,
            "survival_rate": alive,
            # Steps completed with the resource intact (a collapse during step t ends it at t - 1).
            "survival_time": float(model.steps if self.collapse_step is None else self.collapse_step - 1),
            "collapse_step": float("nan") if self.collapse_step is None else float(self.collapse_step),
            "over_usage": self._total_over / self._total_takes if self._total_takes else float("nan"),
            "equality": equality(model.payoff[model.alive]),
            "stock": float(self.stock),
            "harvest": float(model.totals.welfare),
        }

    def render(self, obs: Any) -> str:
        level = f"{obs.stock * 100 // STOCK_BUCKETS}%"
        others = ("Last round some others took more than their sustainable share."
                  if obs.others_overused else "Last round nobody else took more than their sustainable share.")
        return (f"The shared resource stands at about {level} of its capacity. {others} "
                f"Your sustainable share is 1; you may take from 0 up to {obs.max_take} times it.")


def _joiners(model: Any) -> list[int]:
    """The deciders of the newcomers the script's joins will bring, made now where they can be
    (``SpecModel.joiner_deciders``): the look-up made at build then covers them, and a join
    costs the run no cells."""
    out: list[int] = []
    for ev in model.script.events:
        if ev.type == "join" and ev.at is not None:
            ids = model.joiner_deciders(model.group_index(ev.args["group"]))
            if ids is not None:
                out.extend(ids[:1])  # commons decides in one phase
    return out
