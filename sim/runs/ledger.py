"""How much of a run's event ledger is kept: ``full``, ``counts`` or ``none``.

A run's events are its conflicts (one row per violated principle per
decision: step, agent, partner, and the conflict itself: act, winner, loser,
their levels and sources, reason) and its script events. A sweep of long runs
logs millions of them, but most questions (which rule gives way to which, how
often, when) need only how many of each distinct event happened at each step.

* ``full`` (default): every event row, plus the per-step counts.
* ``counts``: per step, per event kind and distinct payload (a conflict's act,
  winner, loser, levels, sources and reason; a script event's detail), how many;
  no per-event rows, so who was in each conflict is not kept.
* ``none``: no events at all; the run's final metrics (``conflicts``,
  ``conflicts_by_level.*``, ``compliance.*``) still count them.

The reduction runs in the worker, so a ``counts`` sweep ships and stores only
the counts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from agents.errors import SpecboundError

LEDGERS = ("full", "counts", "none")
DEFAULT_LEDGER = "full"
#: Event columns stored as their own values; every other column goes into the JSON payload.
EVENT_KEYS = ("step", "kind", "agent", "partner")
COUNT_COLUMNS = ("step", "kind", "data", "count")


def check_ledger(value: Any, where: str = "--ledger") -> str:
    """``value`` if it names a ledger mode, else a one-line error naming ``where``."""
    if value not in LEDGERS:
        raise SpecboundError(f"{where} {value!r}: expected one of {', '.join(LEDGERS)}")
    return str(value)


@dataclass(frozen=True)
class CodedEvents:
    """A run's events as columns: nullable integers (None as a mask) and payload texts.

    ``payloads[i]`` is the JSON text of row ``i``'s other fields (sorted keys),
    the same text for the same conflict, so the store keeps each text once.
    """

    step: np.ndarray  # int64, 0 where null
    step_null: np.ndarray  # bool
    kind: list[str | None]
    agent: np.ndarray
    agent_null: np.ndarray
    partner: np.ndarray
    partner_null: np.ndarray
    payloads: list[str]

    def __len__(self) -> int:
        return len(self.payloads)


def code_events(events: pd.DataFrame) -> CodedEvents:
    """Split an events frame (``sim.runs.run.EVENT_COLUMNS``) into key columns and payloads."""
    other = [c for c in events.columns if c not in EVENT_KEYS]
    texts: dict[tuple[Any, ...], str] = {}
    payloads: list[str] = []
    # Conflicts repeat a few payloads thousands of times: serialise each distinct one once.
    for values in events[other].itertuples(index=False, name=None) if other else ():
        key = tuple(None if _missing(v) else _plain(v) for v in values)
        text = texts.get(key)
        if text is None:
            data = {k: _json_value(v) for k, v in zip(other, key, strict=True) if v is not None}
            text = texts[key] = json.dumps(data, sort_keys=True, default=str)
        payloads.append(text)
    if not other:
        payloads = ["{}"] * len(events)
    step, step_null = _ints(events.get("step"), len(events))
    agent, agent_null = _ints(events.get("agent"), len(events))
    partner, partner_null = _ints(events.get("partner"), len(events))
    kinds = events["kind"].tolist() if "kind" in events.columns else [None] * len(events)
    return CodedEvents(step, step_null, [None if _missing(k) else str(k) for k in kinds],
                       agent, agent_null, partner, partner_null, payloads)


def event_counts(events: pd.DataFrame) -> pd.DataFrame:
    """Per step, event kind and payload: how many events (``COUNT_COLUMNS``), in step order."""
    coded = code_events(events)
    return counts_of(coded)


def counts_of(coded: CodedEvents) -> pd.DataFrame:
    """The counts of already coded events (what ``counts`` keeps of ``full``)."""
    frame = pd.DataFrame({
        "step": pd.array(np.where(coded.step_null, 0, coded.step), dtype="Int64"),
        "kind": pd.Series(coded.kind, dtype=object),
        "data": pd.Series(coded.payloads, dtype=object),
    })
    frame.loc[coded.step_null, "step"] = pd.NA
    if frame.empty:
        return pd.DataFrame({c: [] for c in COUNT_COLUMNS})
    grouped = frame.groupby(["step", "kind", "data"], dropna=False, sort=True).size()
    return grouped.rename("count").reset_index()[list(COUNT_COLUMNS)]


def _ints(column: pd.Series | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """int64 values and a null mask; values that are not integers count as null."""
    if column is None:
        return np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    values = np.zeros(n, dtype=np.int64)
    null = np.zeros(n, dtype=bool)
    for i, v in enumerate(column.tolist()):
        try:
            values[i] = int(v)
        except (TypeError, ValueError, OverflowError):
            null[i] = True
    return values, null


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _json_value(value: Any) -> Any:
    """JSON-safe scalar: infinities become None (JSON has no infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
