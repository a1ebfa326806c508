"""The long-lived heap is frozen only in processes specbound owns (``sim.runs.heap``)."""

from __future__ import annotations

import gc
import json
import sqlite3
import subprocess
import sys

from sim.runs import heap


def test_a_library_callers_process_is_never_frozen(monkeypatch) -> None:
    monkeypatch.setattr(heap, "OWNED", False)
    monkeypatch.setattr(heap, "_settled", False)
    before = gc.get_freeze_count()
    heap.settle()
    assert gc.get_freeze_count() == before


def _freeze_count(_: object) -> int:
    return gc.get_freeze_count()


def test_pool_workers_start_from_a_frozen_heap() -> None:
    # The forkserver freezes what its preloads made before it forks: its workers inherit that.
    code = ("import sim.runs.pool as p\n"
            "from tests.test_heap import _freeze_count\n"
            "if __name__ == '__main__':\n"
            "    with p.context().Pool(1) as pool:\n"
            "        print(pool.map(_freeze_count, [0])[0])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert int(done.stdout) > 10_000  # numpy, pandas, mesa and the engine


def test_a_serial_command_line_sweep_freezes_once_and_stores_the_same(tmp_path) -> None:
    # The console script's process is its own: a serial sweep imports the engine, then freezes
    # once; what it stores is what a library caller's unfrozen sweep stores.
    code = ("import gc, json, sys\n"
            "from sim.runs import heap\n"
            "heap.OWNED = sys.argv[1] == 'cli'\n"
            "from cli.main import main\n"
            "main(['sweep', 'ipd-classic', '--set', 'steps=3', '--runs', '3', '--workers', '1',"
            " '--out', sys.argv[2]])\n"
            "print(json.dumps([gc.get_freeze_count(), heap._settled]), file=sys.stderr)\n")
    stored, frozen = {}, {}
    for who in ("cli", "library"):
        out = tmp_path / who
        done = subprocess.run([sys.executable, "-c", code, who, str(out)], capture_output=True, text=True,
                              timeout=180, check=True)
        frozen[who] = json.loads(done.stderr.strip().splitlines()[-1])
        with sqlite3.connect(out / "store.sqlite") as db:
            stored[who] = db.execute("SELECT run_id, seed, metrics FROM runs ORDER BY run_id").fetchall()
    assert frozen["cli"][0] > 10_000 and frozen["cli"][1] is True
    assert frozen["library"] == [0, False]
    assert stored["cli"] == stored["library"] and len(stored["cli"]) == 3
