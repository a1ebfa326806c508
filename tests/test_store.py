"""The SQLite store: schema, atomic runs, flattened columns, safe refusals."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from agents.errors import SpecboundError
from sim.runs.records import Job, LongSteps, RunRecord
from sim.runs.store import SCHEMA_VERSION, STORE_FILE, Store, SweepInfo, check_folder, sha256

INFO = SweepInfo(
    sweep_id="s1",
    scenario="fake",
    scenario_text='[scenario]\nid = "fake"\n',
    specs={"plain": '[spec]\nid = "plain"\n'},
    grid={"x": [1, 2]},
    zip={},
    runs=2,
    seed=0,
    points=2,
    code_version="git:test",
)


def record(run_id: int, metrics: dict[str, float], status: str = "done", steps=None, events=None):
    return RunRecord(
        job=Job(run_id, run_id // 2, run_id % 2, 100 + run_id, (("x", run_id // 2 + 1),)),
        status=status,
        started=1.0,
        ended=2.0,
        metrics=metrics,
        steps=LongSteps.of_frame(
            steps if steps is not None else pd.DataFrame({"step": [0, 1], "metric": ["w", "w"], "value": [0.5, 1.5]})
        ),
        events=events,
        error="Traceback ...\nValueError: boom" if status == "failed" else None,
    )


@pytest.fixture
def store(tmp_path):
    s = Store.create_or_open(tmp_path / "out")
    s.add_sweep(INFO)
    yield s
    s.close()


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_store_is_wal_with_schema_version(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_meta_records_texts_hashes_and_sweep(store):
    meta = Store.open(store.path.parent).meta()
    assert meta["schema_version"] == SCHEMA_VERSION
    assert meta["scenario_text"] == INFO.scenario_text and meta["specs"] == INFO.specs
    assert meta["hashes"] == {
        "scenario": sha256(INFO.scenario_text),
        "spec:plain": sha256(INFO.specs["plain"]),
    }
    assert (meta["grid"], meta["runs"], meta["seed"], meta["code_version"]) == (
        {"x": [1, 2]},
        2,
        0,
        "git:test",
    )


def test_metric_columns_appear_as_metrics_do(store):
    store.write_run("s1", "fake", record(0, {"welfare": 1.0}))
    store.write_run("s1", "fake", record(1, {"welfare": 2.0, "compliance.do_not_lie": 0.5}))
    runs = Store.open(store.path.parent).runs()
    assert list(runs["welfare"]) == [1.0, 2.0]
    assert runs["compliance.do_not_lie"].isna().tolist() == [True, False]
    assert list(runs["x"]) == [1, 1] and store.grid_paths() == ["x"]
    assert store.metric_names() == ["welfare", "compliance.do_not_lie"]


def test_failed_run_is_stored_with_traceback(store):
    store.write_run("s1", "fake", record(3, {}, status="failed", steps=pd.DataFrame({"step": [], "metric": [], "value": []})))
    row = store.run_row(3)
    assert row["status"] == "failed" and row["error"].endswith("ValueError: boom")
    assert store.steps([3]).empty


def test_a_run_is_wholly_stored_or_not_at_all(store):
    # A metric code with no name: the write fails after the run's row and metrics went in.
    bad = replace(record(0, {"welfare": 1.0, "newmetric": 2.0}),
                  steps=LongSteps(np.array([0, 1]), np.array([0, 5]), ("w",), np.array([1.0, 2.0])))
    with pytest.raises(IndexError):
        store.write_run("s1", "fake", bad)
    reader = Store.open(store.path.parent)
    assert reader.runs().empty and reader.steps().empty
    assert "newmetric" not in reader.metric_names()
    store.write_run("s1", "fake", record(0, {"welfare": 1.0}))  # the store is still usable
    assert list(Store.open(store.path.parent).runs()["run_id"]) == [0]


def test_names_added_by_a_rolled_back_run_are_looked_up_again(store):
    # Run 0 adds metric "z" and fails: its id is rolled back with it. Run 1 adds "y" then "z":
    # a writer that remembered z's first id would file y's values under "z".
    bad = replace(record(0, {}), steps=LongSteps(np.array([1, 1]), np.array([0, 5]), ("z",), np.array([1.0, 2.0])))
    with pytest.raises(IndexError):
        store.write_run("s1", "fake", bad)
    frame = pd.DataFrame({"step": [1, 1], "metric": ["y", "z"], "value": [3.0, 4.0]})
    store.write_run("s1", "fake", record(1, {}, steps=frame))
    got = Store.open(store.path.parent).steps([1])
    assert sorted(zip(got["metric"], got["value"], strict=True)) == [("y", 3.0), ("z", 4.0)]


def test_same_run_twice_is_refused_unless_replacing(store):
    store.write_run("s1", "fake", record(0, {}, status="failed"))
    with pytest.raises(sqlite3.IntegrityError):
        store.write_run("s1", "fake", record(0, {"welfare": 1.0}))
    store.write_run("s1", "fake", record(0, {"welfare": 1.0}), replace=True)
    assert store.run_row(0)["status"] == "done"
    assert len(store.steps([0])) == 2


def test_events_keep_fixed_columns_and_json_data(store):
    events = pd.DataFrame(
        {"step": [3, 4], "kind": ["conflict", "shock"], "agent": [1, None], "partner": [2, None],
         "winner": ["do_not_lie", None], "reason": ["root wins", "scripted"]}
    )  # fmt: skip
    store.write_run("s1", "fake", record(0, {}, events=events))
    got = Store.open(store.path.parent).events(kind="conflict")
    assert got[["run_id", "step", "kind", "agent", "partner"]].values.tolist() == [
        [0, 3, "conflict", 1, 2]
    ]
    assert json.loads(got["data"][0]) == {"winner": "do_not_lie", "reason": "root wins"}
    assert len(store.events(limit=1)) == 1


def test_reader_sees_runs_while_writer_holds_the_store(store):
    reader = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    for i in range(3):
        store.write_run("s1", "fake", record(i, {"welfare": float(i)}))
        assert reader.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == i + 1
    reader.close()


def test_older_schema_is_refused_and_left_untouched(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    db = folder / STORE_FILE
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE runs(run_id INTEGER PRIMARY KEY)")
    conn.execute("PRAGMA user_version=0")
    conn.commit()
    conn.close()
    before = digest(db)
    for opener in (Store.open, Store.create_or_open, check_folder):
        with pytest.raises(SpecboundError, match="schema version 0") as err:
            opener(folder)
        assert "\n" not in str(err.value)
    assert digest(db) == before and sorted(p.name for p in folder.iterdir()) == [STORE_FILE]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("x"), "is a file"),
        (
            lambda p: (p.mkdir(), (p / STORE_FILE).write_text("not sqlite at all" * 100)),
            "not a specbound store",
        ),
        (lambda p: (p.mkdir(), (p / STORE_FILE).mkdir()), "is a folder"),
    ],
)
def test_bad_output_folders(tmp_path, make, message):
    target = tmp_path / "out"
    make(target)
    with pytest.raises(SpecboundError, match=message) as err:
        Store.create_or_open(target)
    assert "\n" not in str(err.value)


def test_open_without_store(tmp_path):
    with pytest.raises(SpecboundError, match="no specbound store"):
        Store.open(tmp_path)


def test_new_sweep_ids_follow_planned_runs(store):
    assert store.next_run_id() == 4
    store.add_sweep(
        SweepInfo(**{**INFO.__dict__, "sweep_id": "s2", "first_run": 4, "grid": {"y": [1]}, "points": 1})
    )
    assert [s.sweep_id for s in store.sweeps()] == ["s1", "s2"]
    assert store.next_run_id() == 6
    assert store.grid_paths() == ["x", "y"] and store.meta()["sweep_id"] == "s2"


@pytest.mark.parametrize(
    ("change", "same"),
    [({}, True), ({"seed": 1}, False), ({"runs": 3}, False), ({"grid": {"x": [1, 3]}}, False),
     ({"scenario_text": "other"}, False), ({"specs": {"plain": "changed"}}, False),
     ({"code_version": "git:other", "sweep_id": "zz"}, True)],
)  # fmt: skip
def test_fingerprint_tracks_what_was_asked(change, same):
    assert (SweepInfo(**{**INFO.__dict__, **change}).fingerprint == INFO.fingerprint) is same
