"""Benchmark ``store-size``: bytes the demo sweep's store takes per run.

Issue 18 measured 4.1 MB per run (628,000 conflict rows of repeated JSON in
48 runs); its target is at most 0.2 MB per run at the same information. The
row runs the demo's own sweep (``cli.main.demo_sweep``, the default ledger:
full, every conflict kept) into a temporary folder on 2 workers and divides
the store's size on disk (with its WAL side files, after the sweep closed it)
by the runs stored. A size, not a time: the figure does not move with load.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from bench.harness import Result, at_most

SCENARIO = "negotiation-honest-first"
RUNS = 8  # paired runs per grid point: the demo's default
TARGET_MB = 0.2


def store_bytes(folder: Path) -> int:
    """The store's bytes on disk, side files included."""
    return sum(p.stat().st_size for p in folder.glob("store.sqlite*"))


def bench_store_size(runs: int = RUNS) -> list[Result]:
    """One row: MB per stored run of the demo sweep."""
    from cli.main import demo_sweep

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        demo_sweep(SCENARIO, runs, out, 2)
        with sqlite3.connect(out / "store.sqlite") as conn:
            stored = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            events = conn.execute("SELECT COALESCE(SUM(rows), 0) FROM event_ledger").fetchone()[0]
        conn.close()  # the context manager commits; it does not close
        size = store_bytes(out)
    per_run = size / stored / 1e6
    return [at_most("store-size", round(per_run, 4), TARGET_MB, "MB/run",
                    f"the demo sweep: {stored} runs of {SCENARIO}, full ledger, {events:,} ledger rows, "
                    f"{size / 1e6:.2f} MB")]
