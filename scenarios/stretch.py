"""What an environment's fast-forward hands the engine: the per-step state of a stretch of steps.

``Environment.fast_forward(model, limit)`` may play up to ``limit`` steps at
once (say, in a compiled loop) instead of the engine stepping them one by one.
It returns a :class:`Stretch`, whose arrays have a leading step axis, and the
engine computes every per-step metric from them, exactly as stepping would.
The contract: within the stretch the environment reports no metrics or step
counters of its own, and everyone stays alive.
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
        trust_mean, trust_cal: (K,) the metrics ``trust_mean`` and ``trust_calibration`` of each
            step, when a kernel computed them (rounded as the metrics round them) and set
            ``stats_ok[0]``; the engine then does not compute them again from ``trust``.
        stats_ok: (1,) int8, 1 when ``trust_mean`` and ``trust_cal`` hold every step's values.
    """

    counts: np.ndarray
    step_pay: np.ndarray
    payoff: np.ndarray
    group_sums: np.ndarray
    trust: np.ndarray
    met: np.ndarray
    truth_kept: np.ndarray
    truth_total: np.ndarray
    trust_mean: np.ndarray | None = None
    trust_cal: np.ndarray | None = None
    stats_ok: np.ndarray | None = None


@dataclasses.dataclass
class Stretch:
    """The first ``steps`` rows of ``arrays`` are the steps played."""

    steps: int
    arrays: StepArrays

    @classmethod
    def empty(cls, k: int, outcomes: int, n: int, groups: int, rows: int) -> Stretch:
        """Zeroed records for up to ``k`` steps."""
        return cls(0, StepArrays(np.zeros((k, outcomes), np.int64), np.zeros((k, n)), np.zeros((k, n)),
                                 np.zeros((k, groups)), np.zeros((k, rows)), np.zeros((k, rows), np.bool_),
                                 np.zeros((k, n)), np.zeros((k, n)), np.zeros(k), np.zeros(k),
                                 np.zeros(1, np.int8)))
