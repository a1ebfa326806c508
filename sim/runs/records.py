"""What a run is and what it leaves: the values that executors produce and the store writes.

They live apart from the executors so that the store depends on records, not on
how runs are executed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Job:
    """One planned run: its stable id, grid point, repetition, seed and parameters."""

    run_id: int
    point: int
    rep: int
    seed: int
    params: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, eq=False)
class LongSteps:
    """A run's per-step metrics in long form: row ``i`` is (``step[i]``, ``names[metric[i]]``, ``value[i]``).

    Numpy columns and each name once rather than a DataFrame: every sweep worker builds one a
    run and ships it to the driver, and the frames (wide, then long, with a categorical
    column) cost more than a short run's simulation.
    """

    step: np.ndarray  # int64
    metric: np.ndarray  # int64 codes into names
    names: tuple[str, ...]
    value: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.step)

    @classmethod
    def of_columns(cls, steps: np.ndarray, columns: Mapping[str, Any]) -> LongSteps:
        """From wide columns over ``steps``, metric by metric; columns that are not numbers or
        booleans (as a DataFrame would type them) are left out."""
        names, values = [], []
        for name, column in columns.items():
            array = np.asarray(column)
            if array.dtype == object:  # mixed Python values: typed as a DataFrame column would be
                array = pd.Series(column).to_numpy()
            if array.dtype.kind in "biuf":
                names.append(str(name))
                values.append(array.astype(np.float64))
        steps = np.asarray(steps, dtype=np.int64)
        return cls(np.tile(steps, len(names)), np.repeat(np.arange(len(names), dtype=np.int64), len(steps)),
                   tuple(names), np.concatenate(values) if values else np.zeros(0))

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> LongSteps:
        """From a long (step, metric, value) frame; names numbered in order of first appearance."""
        codes, names = pd.factorize(frame["metric"].astype(str))
        return cls(frame["step"].to_numpy(np.int64), codes.astype(np.int64), tuple(str(n) for n in names),
                   frame["value"].to_numpy(np.float64))

    def frame(self) -> pd.DataFrame:
        """The long (step, metric, value) frame."""
        return pd.DataFrame({"step": self.step, "metric": [self.names[m] for m in self.metric.tolist()],
                             "value": self.value})


@dataclass(frozen=True)
class RunRecord:
    """The compact result of one run, as written to the store.

    ``steps`` is long-form (step, metric, value) and ``events`` keeps the
    engine's columns; ``error`` holds the traceback of a run that raised.
    ``ledger`` says how much of the events the store keeps
    (``sim.runs.ledger``); a ``counts`` run carries only ``counts`` (step, kind,
    data, count), reduced in the worker, and no ``events``.
    """

    job: Job
    status: str
    started: float
    ended: float
    metrics: dict[str, float] = field(default_factory=dict)
    steps: LongSteps | None = None
    events: pd.DataFrame | None = None
    error: str | None = None
    ledger: str = "full"
    counts: pd.DataFrame | None = None

