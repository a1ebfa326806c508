"""What an environment's fast-forward hands the engine: the per-step state of a stretch of steps.

``Environment.fast_forward(model, limit)`` may play up to ``limit`` steps at
once (say, in a compiled loop) instead of the engine stepping them one by one.
It returns a :class:`Stretch`, whose arrays have a leading step axis, and the
engine computes every per-step metric from them, exactly as stepping would.
The contract: within the stretch everyone stays alive, and nobody joins but in a join the
environment absorbs (``Environment.absorbs_join``): the engine fires it ahead at its own step
and hands the environment a :class:`Joined`; the newcomers (the last agents) are then not
there before that step (they neither decide, earn nor count: the stretch's rows before it are
the population's before the join) and ordinary agents from it on. The environment's step
counters, if it has any, come in ``counters``, its per-step metrics in
``env_metrics``, and an evolving population's share and fixation columns in
``evolved`` (``scenarios.spatial_kernel`` plays imitation inside the stretch).
A counter the environment does not count at some step (``rewired`` at a step
that cut no tie) is NaN there: the engine books it as absent, as stepping
does. Where the welfare bounds change inside the stretch (the graph was
rewired), ``bounds`` holds each step's.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np


class StepArrays(NamedTuple):
    """Per-step state the metrics read (leading axis: step); a NamedTuple so compiled loops can write it.

    Attributes:
        counts: (K, outcomes) decisions per outcome of the decision table.
        step_pay: (K, n) payoff earned in the step.
        payoff: (K, n) cumulative payoff after the step.
        group_sums: (K, groups) cumulative payoff per group, summed in agent order.
        trust: (K, pair rows) trust after the step.
        met: (K, pair rows) the pair has played.
        truth_kept: (K, n) and truth_total: (K, n) the agents' truth record after the step.
        summary: (K, len(SUMMARY)) the engine's metrics of each step, computed by the loop that
            played it (a summarised stretch: then the per-agent and per-pair arrays have no
            columns, and only the engine's metrics are collected).
    """

    counts: np.ndarray
    step_pay: np.ndarray
    payoff: np.ndarray
    group_sums: np.ndarray
    trust: np.ndarray
    met: np.ndarray
    truth_kept: np.ndarray
    truth_total: np.ndarray
    summary: np.ndarray


class Joined(NamedTuple):
    """A join played inside a stretch (``Environment.fast_forward_joined``): it fired at step
    ``step``; before it the population was ``group_of`` and ``alive``, the arrays the join
    replaced (its newcomers are the agents after these)."""

    step: int
    group_of: np.ndarray
    alive: np.ndarray

    @property
    def before(self) -> int:
        """Agents before the join."""
        return len(self.group_of)


#: Columns of ``StepArrays.summary``: the metrics ``sim.metrics`` would compute from the records.
SUMMARY = ("welfare", "gini", "trust_mean", "trust_calibration")
@dataclasses.dataclass
class Stretch:
    """The first ``steps`` rows of ``arrays`` (and of each column below) are the steps played."""

    steps: int
    arrays: StepArrays
    #: The environment's per-step metrics (name -> (K,) column).
    env_metrics: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    #: ``share.*`` and ``fixation`` per step, when evolution ran inside the stretch.
    evolved: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    #: The environment's step counters (``model.count``) per step, in the order it counts them.
    counters: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    #: (K, 2) each step's welfare bounds (baseline, optimum), where they change inside the
    #: stretch (rewired ties, tooth-fairy's draws); None: ``env.bounds`` at every step.
    bounds: np.ndarray | None = None
    #: The kernel opts in to booking a summarised stretch as one block (``sim.summary_book``):
    #: its outcome counts, summary, counters and environment columns are all the metrics read.
    one_block: bool = False
    #: (names, (K, columns) array): ``env_metrics``' columns ``names`` side by side, when they are
    #: one array's columns; a block books them in one copy while ``env_metrics`` has these names.
    env_block: tuple[tuple[str, ...], np.ndarray] | None = None
    #: The join the stretch played inside it (the engine sets it: ``SpecModel._through_join``):
    #: its rows before ``joined.step`` are booked as the population before it (``sim.collect``).
    joined: Joined | None = None

    def rows(self, lo: int, hi: int) -> Stretch:
        """Steps ``lo`` to ``hi`` (rows of this stretch) as a stretch of their own (views)."""
        a = self.arrays
        cut = StepArrays(*(x[lo:hi] for x in a))
        env_block = None if self.env_block is None else (self.env_block[0], self.env_block[1][lo:hi])
        return Stretch(hi - lo, cut, {k: v[lo:hi] for k, v in self.env_metrics.items()},
                       {k: v[lo:hi] for k, v in self.evolved.items()}, {k: v[lo:hi] for k, v in self.counters.items()},
                       None if self.bounds is None else self.bounds[lo:hi], self.one_block, env_block)

    @property
    def summarised(self) -> bool:
        """Whether the loop computed the engine's metrics itself (``StepArrays.summary``)."""
        return self.arrays.summary.shape[1] > 0

    @classmethod
    def empty(cls, k: int, outcomes: int, n: int, groups: int, rows: int, summarised: bool = False) -> Stretch:
        """Zeroed records for up to ``k`` steps; summarised: no per-agent or per-pair records."""
        if summarised:
            n = rows = 0
        return cls(0, StepArrays(np.zeros((k, outcomes), np.int64), np.zeros((k, n)), np.zeros((k, n)),
                                 np.zeros((k, groups)), np.zeros((k, rows)), np.zeros((k, rows), np.bool_),
                                 np.zeros((k, n)), np.zeros((k, n)),
                                 np.zeros((k, len(SUMMARY) if summarised else 0))))
