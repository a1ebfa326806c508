"""``--ledger full|counts|none`` end to end on the real engine: what each keeps, that
export, report, plot and rerun work on each, and the store's size per run."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from cli.main import main
from sim.runs.export import export
from sim.runs.store import STORE_FILE, Store
from sim.runs.sweep import rerun, sweep

SCENARIO = "negotiation-honest-first"
GRID = {"environment.detect_prob": [0.2, 0.8], "steps": [8]}
#: Bytes each further run adds to a store of this sweep, measured 2026-12 (full ledger,
#: 8 steps): about 2.6 KB. The bound leaves room for code changes, and is far below
#: what rows would cost (about 40 KB a run of this sweep as event rows).
MAX_BYTES_PER_RUN = 8_000


def _sweep(folder, ledger: str, runs: int = 2) -> pd.DataFrame:
    return sweep(SCENARIO, grid=GRID, runs=runs, seed=3, out=folder, workers=1, progress=False,
                 ledger=ledger)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("ledgers")
    for ledger in ("full", "counts", "none"):
        _sweep(root / ledger, ledger)
    return root


def _counts(folder) -> pd.DataFrame:
    with Store.open(folder) as store:
        return store.event_counts()


def test_counts_keep_exactly_what_the_full_ledger_counts(stores):
    with Store.open(stores / "full") as store:
        events = store.events()
        assert set(store.ledgers().values()) == {"full"}
    full = _counts(stores / "full")
    assert len(events) > 100 and int(full["count"].sum()) == len(events)
    pd.testing.assert_frame_equal(_counts(stores / "counts"), full)
    with Store.open(stores / "counts") as store:
        assert store.events().empty and set(store.ledgers().values()) == {"counts"}
    with Store.open(stores / "none") as store:
        assert store.events().empty and store.event_counts().empty
        assert len(store.steps()) == len(Store.open(stores / "full").steps())


@pytest.mark.parametrize(
    ("ledger", "files"),
    [("full", ["runs", "steps", "events", "event_counts"]),
     ("counts", ["runs", "steps", "event_counts"]),
     ("none", ["runs", "steps"])],
)
def test_export_writes_what_the_ledger_kept(stores, tmp_path, ledger, files):
    paths = export(stores / ledger, "csv", tmp_path / "x")
    assert [p.stem for p in paths] == files
    runs = pd.read_csv(paths[0])
    assert set(runs["ledger"]) == {ledger} and len(runs) == 4


@pytest.mark.parametrize(
    ("ledger", "says"),
    [("counts", "conflict events in all"), ("none", "--ledger none")],  # full: test_report
)
def test_report_works_on_every_ledger(stores, tmp_path, ledger, says):
    out = tmp_path / "r.html"
    assert main(["report", str(stores / ledger), "-o", str(out)]) == 0
    assert says in out.read_text()


@pytest.mark.parametrize("ledger", ["full", "counts", "none"])
def test_rerun_and_level_heatmap_work_on_every_ledger(stores, tmp_path, ledger):
    assert rerun(stores / ledger, 3)["match"]
    png = tmp_path / "h.png"
    assert main(["plot", str(stores / ledger), "--kind", "heatmap", "-o", str(png)]) == 0


@pytest.mark.parametrize(("ledger", "code"), [("counts", 0), ("none", 2)])
def test_heatmap_by_principle_needs_stored_conflicts(stores, tmp_path, capsys, ledger, code):
    png = tmp_path / "p.png"
    argv = ["plot", str(stores / ledger), "--kind", "heatmap", "--by", "principle", "-o", str(png)]
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    if code:
        assert "\n" not in err and "--ledger none" in err and "--ledger counts or full" in err


def test_a_run_adds_a_few_kilobytes_to_the_store(tmp_path, stores):
    small = (stores / "full" / STORE_FILE).stat().st_size
    _sweep(tmp_path / "big", "full", runs=6)
    big = (tmp_path / "big" / STORE_FILE).stat().st_size
    per_run = (big - small) / (2 * (6 - 2))
    assert 0 < per_run <= MAX_BYTES_PER_RUN
    with sqlite3.connect(tmp_path / "big" / STORE_FILE) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"series", "event_ledger", "event_counts"} <= tables and "steps" not in tables
