"""A run's bulk data in the store: time series, event counts and the event ledger.

Tables (schema version 2; ``sim.runs.store`` creates them with the others)::

    metric_names(metric_id, metric)          each per-step metric name once
    series(run_id, rows, data)               a run's time series: one packed blob of
                                             step, metric_id, value columns
    event_kinds(kind_id, kind)               each event kind once
    event_data(data_id, data)                each distinct JSON payload (a conflict's act,
                                             winner, loser, levels, sources, reason) once
    event_counts(run_id, seq, step, kind_id, data_id, count)
                                             per step, kind and payload: how many events
                                             (ledger ``full`` and ``counts``), plain SQL
    event_ledger(run_id, rows, data)         every event of a ``full`` run: one packed blob
                                             of step, kind_id, agent, partner, data_id

Why blobs: one row per run instead of one per value or per event. A demo run
logs about 10,000 conflicts and 1,600 series values; as rows they cost about
260 KB, packed about 6 KB (see :mod:`sim.runs.packing`). The counts stay plain
rows (a few hundred a run) so SQL can answer "which rule gave way, when".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from agents.errors import SpecboundError
from sim.runs.ledger import CodedEvents, code_events, counts_of
from sim.runs.packing import pack, unpack
from sim.runs.records import RunRecord

TABLES = (
    "CREATE TABLE metric_names(metric_id INTEGER PRIMARY KEY, metric TEXT UNIQUE)",
    "CREATE TABLE series(run_id INTEGER PRIMARY KEY, rows INTEGER, data BLOB)",
    "CREATE TABLE event_kinds(kind_id INTEGER PRIMARY KEY, kind TEXT UNIQUE)",
    "CREATE TABLE event_data(data_id INTEGER PRIMARY KEY, data TEXT UNIQUE)",
    # Clustered by run: no separate index, and a replaced run deletes one range.
    """CREATE TABLE event_counts(run_id INTEGER, seq INTEGER, step INTEGER, kind_id INTEGER,
        data_id INTEGER, count INTEGER, PRIMARY KEY(run_id, seq)) WITHOUT ROWID""",
    "CREATE TABLE event_ledger(run_id INTEGER PRIMARY KEY, rows INTEGER, data BLOB)",
)
#: Every table above, by name: a store missing one is damaged.
TABLE_NAMES = ("metric_names", "series", "event_kinds", "event_data", "event_counts", "event_ledger")
#: Tables that hold a run's rows (deleted when a failed run is replaced).
RUN_TABLES = ("series", "event_counts", "event_ledger")
EVENT_COLUMNS = ("run_id", "step", "kind", "agent", "partner", "data")
COUNT_COLUMNS = ("run_id", "step", "kind", "data", "count")


# -- writing ---------------------------------------------------------------------------------


class Dictionary:
    """Ids of dictionary entries (metric names, event kinds, payloads) one writer has seen.

    Every run of a sweep names the same metrics and mostly the same events: looking each up
    again cost two statements a value, a run. The writer calls :meth:`forget` when a
    transaction rolls back, since ids it inserted there are gone.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[str, Any], int] = {}

    def codes(self, conn: sqlite3.Connection, table: str, column: str, values: Sequence[Any]) -> list[int | None]:
        """Dictionary ids of ``values`` (None stays None), adding new entries once."""
        ids = self._ids
        out: list[int | None] = []
        for value in values:
            if value is None:
                out.append(None)
                continue
            key = (table, value)
            found = ids.get(key)
            if found is None:
                conn.execute(f"INSERT OR IGNORE INTO {table}({column}) VALUES (?)", (value,))
                row = conn.execute(f"SELECT rowid FROM {table} WHERE {column} = ?", (value,))
                found = ids[key] = int(row.fetchone()[0])
            out.append(found)
        return out

    def forget(self) -> None:
        self._ids.clear()


def write_bulk(conn: sqlite3.Connection, record: RunRecord, known: Dictionary | None = None) -> None:
    """Write a run's series, counts and (ledger ``full``) events, inside the caller's transaction;
    ``known``: the writer's dictionary ids (a fresh one by default)."""
    codes = (known if known is not None else Dictionary()).codes
    run_id = record.job.run_id
    steps = record.steps
    if steps is not None and len(steps):
        ids = np.asarray(codes(conn, "metric_names", "metric", steps.names), dtype=np.int64)
        blob = pack({"step": steps.step, "metric": ids[steps.metric], "value": steps.value}, deltas=("step",))
        conn.execute("INSERT INTO series VALUES (?, ?, ?)", (run_id, len(steps), blob))
    counts = record.counts
    if record.ledger == "full" and record.events is not None and not record.events.empty:
        coded = code_events(record.events)
        _write_ledger(conn, run_id, coded, codes)
        counts = counts_of(coded)
    if record.ledger != "none" and counts is not None and not counts.empty:
        kinds = codes(conn, "event_kinds", "kind", counts["kind"].tolist())
        datas = codes(conn, "event_data", "data", counts["data"].tolist())
        steps_ = [None if pd.isna(s) else int(s) for s in counts["step"].tolist()]
        conn.executemany(
            "INSERT INTO event_counts VALUES (?, ?, ?, ?, ?, ?)",
            zip([run_id] * len(counts), range(len(counts)), steps_, kinds, datas,
                counts["count"].astype(int).tolist(), strict=True),
        )


def _write_ledger(conn: sqlite3.Connection, run_id: int, coded: CodedEvents,
                  codes: Callable[[sqlite3.Connection, str, str, Sequence[Any]], list[int | None]]) -> None:
    kinds = codes(conn, "event_kinds", "kind", coded.kind)
    datas = codes(conn, "event_data", "data", coded.payloads)
    kind_null = np.array([k is None for k in kinds], dtype=bool)
    blob = pack({
        "step": coded.step, "step_null": coded.step_null,
        "kind": np.array([0 if k is None else k for k in kinds], dtype=np.int64),
        "kind_null": kind_null,
        "agent": coded.agent, "agent_null": coded.agent_null,
        "partner": coded.partner, "partner_null": coded.partner_null,
        "data": np.asarray(datas, dtype=np.int64),
    }, deltas=("step",))
    conn.execute("INSERT INTO event_ledger VALUES (?, ?, ?)", (run_id, len(coded), blob))


# -- reading ---------------------------------------------------------------------------------


def _dictionary(conn: sqlite3.Connection, table: str, key: str, column: str) -> dict[int, str]:
    return {int(k): v for k, v in conn.execute(f"SELECT {key}, {column} FROM {table}")}


def _selected(conn: sqlite3.Connection, table: str, run_ids: Sequence[int] | None) -> Iterator[tuple[Any, ...]]:
    """(run_id, rows, data) of ``table`` in run order, for ``run_ids`` (None: every run)."""
    sql = f"SELECT run_id, rows, data FROM {table}"
    if run_ids is None:
        yield from conn.execute(sql + " ORDER BY run_id")
        return
    ids = sorted({int(i) for i in run_ids})
    for at in range(0, len(ids), 500):
        part = ids[at : at + 500]
        yield from conn.execute(
            f"{sql} WHERE run_id IN ({', '.join('?' * len(part))}) ORDER BY run_id", part
        )


def _unpacked(conn: sqlite3.Connection, table: str, run_id: int, blob: bytes) -> dict[str, np.ndarray]:
    """A stored blob's columns; a damaged one is refused in one line naming the table and run."""
    try:
        return unpack(blob)
    except ValueError as err:
        db = conn.execute("PRAGMA database_list").fetchone()[2]
        raise SpecboundError(f"{db}: damaged store: {table} row {run_id}: {err}") from None


def series_frames(conn: sqlite3.Connection, run_ids: Sequence[int] | None = None,
                  sort: bool = True) -> Iterator[pd.DataFrame]:
    """Each run's time series ``[run_id, step, metric, value]``, one frame per run.

    ``sort``: rows by step (stable), else in the order they were written.
    """
    names = _dictionary(conn, "metric_names", "metric_id", "metric")
    for run_id, _, blob in _selected(conn, "series", run_ids):
        cols = _unpacked(conn, "series", run_id, blob)
        frame = pd.DataFrame({
            "run_id": np.full(len(cols["step"]), int(run_id), dtype=np.int64),
            "step": cols["step"],
            "metric": pd.Series([names[i] for i in cols["metric"].tolist()], dtype=object),
            "value": cols["value"],
        })
        if sort:
            frame = frame.iloc[np.argsort(cols["step"], kind="stable")]
        yield frame.reset_index(drop=True)


def ledger_frames(conn: sqlite3.Connection, kind: str | None = None) -> Iterator[pd.DataFrame]:
    """Each ``full`` run's events ``[run_id, step, kind, agent, partner, data]``, in order."""
    kinds = _dictionary(conn, "event_kinds", "kind_id", "kind")
    datas = _dictionary(conn, "event_data", "data_id", "data")
    wanted = None
    if kind is not None:
        wanted = next((k for k, v in kinds.items() if v == kind), -1)
    for run_id, _, blob in _selected(conn, "event_ledger", None):
        cols = _unpacked(conn, "event_ledger", run_id, blob)
        keep = np.ones(len(cols["data"]), dtype=bool)
        if wanted is not None:
            keep = (cols["kind"] == wanted) & ~cols["kind_null"].astype(bool)
        if not keep.any():
            continue
        yield pd.DataFrame({
            "run_id": np.full(int(keep.sum()), int(run_id), dtype=np.int64),
            "step": _nullable(cols["step"][keep], cols["step_null"][keep]),
            "kind": pd.Series([None if n else kinds[k] for k, n in
                               zip(cols["kind"][keep].tolist(), cols["kind_null"][keep].tolist(),
                                   strict=True)], dtype=object),
            "agent": _nullable(cols["agent"][keep], cols["agent_null"][keep]),
            "partner": _nullable(cols["partner"][keep], cols["partner_null"][keep]),
            "data": pd.Series([datas[d] for d in cols["data"][keep].tolist()], dtype=object),
        })


def _nullable(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    """int64 when no value is null, else float64 with NaN (as SQL reads gave)."""
    if not null.any():
        return values
    out = values.astype(np.float64)
    out[null.astype(bool)] = np.nan
    return out


def event_counts(conn: sqlite3.Connection, kind: str | None = None) -> pd.DataFrame:
    """Per run, step, kind and payload: how many events (``COUNT_COLUMNS``)."""
    sql = ("SELECT c.run_id, c.step, k.kind, d.data, c.count FROM event_counts c"
           " LEFT JOIN event_kinds k USING (kind_id) LEFT JOIN event_data d USING (data_id)")
    args: list[Any] = []
    if kind is not None:
        sql += " WHERE k.kind = ?"
        args.append(kind)
    return pd.read_sql_query(sql + " ORDER BY c.run_id, c.seq", conn, params=args)


def concat(frames: Iterable[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    """Frames stacked, or an empty frame with ``columns``."""
    parts = list(frames)
    if not parts:
        return pd.DataFrame({c: [] for c in columns})
    return pd.concat(parts, ignore_index=True)
