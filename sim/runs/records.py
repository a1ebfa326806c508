"""What a run is and what it leaves: the values that executors produce and the store writes.

They live apart from the executors so that the store depends on records, not on
how runs are executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Job:
    """One planned run: its stable id, grid point, repetition, seed and parameters."""

    run_id: int
    point: int
    rep: int
    seed: int
    params: tuple[tuple[str, Any], ...]


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
    steps: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    error: str | None = None
    ledger: str = "full"
    counts: pd.DataFrame | None = None

