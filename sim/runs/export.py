"""Export a sweep store to Parquet or CSV files.

Layout of the export folder (default ``DIR/export``)::

    runs.<ext>     one row per run: run_id, sweep_id, point, rep, seed, status, error,
                   started, ended, one column per grid path, one per final metric
    steps.<ext>    time series, long form: run_id, step, metric, value
    events.<ext>   run_id, step, kind, agent, partner, data (JSON of the other fields):
                   every event of the runs stored with ``--ledger full``
    event_counts.<ext>  run_id, step, kind, data, count: per step and distinct event,
                   how many (runs stored with ``--ledger full`` or ``counts``)

A file whose rows no stored run kept (``events`` when every run was stored
with ``counts`` or ``none``) is not written, so an absent ledger is never
mistaken for a run without events; ``runs.<ext>`` says each run's ``ledger``.

Long form for steps and events keeps one schema whatever metrics a run has, and
lets the export stream in batches: memory stays flat for large stores.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from agents.errors import SpecboundError
from sim.runs.store import Store

FORMATS = ("parquet", "csv")
_EMPTY = {
    "steps": {"run_id": "int64", "step": "int64", "metric": "str", "value": "float64"},
    "events": {
        "run_id": "int64",
        "step": "Int64",
        "kind": "str",
        "agent": "Int64",
        "partner": "Int64",
        "data": "str",
    },
    "event_counts": {"run_id": "int64", "step": "Int64", "kind": "str", "data": "str",
                     "count": "int64"},
}


def export(
    folder: str | os.PathLike, fmt: str = "parquet", output: str | os.PathLike | None = None
) -> list[Path]:
    """Write runs, steps and events of the store in ``folder``; return the file paths."""
    if fmt not in FORMATS:
        raise SpecboundError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as err:
            raise SpecboundError(
                "--format parquet needs pyarrow: pip install 'specbound[parquet]'"
            ) from err
    target = Path(output) if output is not None else Path(folder) / "export"
    if target.exists() and not target.is_dir():
        raise SpecboundError(f"-o {target}: is a file; give a folder for the exported files")
    # salvage: export is how a damaged store is rescued, so it writes whatever tables remain
    with Store.open(folder, salvage=True) as store:
        present = store.tables()
        target.mkdir(parents=True, exist_ok=True)
        paths = []
        modes: set[str] = set()
        if "runs" in present:
            runs_path = target / f"runs.{fmt}"
            _write_frame(store.runs(), runs_path, fmt)
            paths.append(runs_path)
            modes = set(store.ledgers().values())
        kept = {"full": {"full"}, "counts": {"full", "counts"}}
        # each logical table and the stored tables it is read from (a salvaged store may lack some)
        sources = {"steps": {"series", "metric_names"},
                   "events": {"event_ledger", "event_kinds", "event_data"},
                   "event_counts": {"event_counts", "event_kinds", "event_data"}}
        tables = ["steps"] + [t for t, m in (("events", "full"), ("event_counts", "counts"))
                              if not modes or modes & kept[m]]
        for table in tables:
            if not sources[table] <= present:
                continue
            path = target / f"{table}.{fmt}"
            _write_stream(store.iter_table(table), path, fmt, _EMPTY[table])
            paths.append(path)
    return paths


def _write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def _write_stream(
    frames: Iterable[pd.DataFrame], path: Path, fmt: str, dtypes: dict[str, str]
) -> None:
    """Write batches to one file without holding the whole table."""
    writer = None
    first = True
    try:
        for frame in frames:
            frame = frame.astype(dtypes)
            if fmt == "csv":
                frame.to_csv(path, index=False, mode="w" if first else "a", header=first)
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                batch = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(path, batch.schema)
                writer.write_table(batch.cast(writer.schema))
            first = False
        if first:
            _write_frame(
                pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()}), path, fmt
            )
    finally:
        if writer is not None:
            writer.close()
