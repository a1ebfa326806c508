"""The compact store: packed columns round trip exactly, each distinct event is stored
once, ledger modes keep what they say, and an older store is refused in one line."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from agents.errors import SpecboundError
from sim.runs.ledger import check_ledger, event_counts
from sim.runs.packing import pack, unpack
from sim.runs.records import Job, LongSteps, RunRecord
from sim.runs.store import SCHEMA_VERSION, STORE_FILE, Store, SweepInfo, check_folder

INFO = SweepInfo(sweep_id="s1", scenario="fake", scenario_text='[scenario]\nid = "fake"\n', specs={},
                 grid={"x": [1]}, zip={}, runs=1, seed=0, points=1, code_version="git:test")
CONFLICT = {"act": "decline", "winner": "do_not_lie", "loser": "help", "reason": "root wins"}


def record(run_id: int, events: pd.DataFrame | None, ledger: str = "full",
           counts: pd.DataFrame | None = None) -> RunRecord:
    steps = pd.DataFrame({"step": [1, 1, 2, 2], "metric": ["w", "t", "w", "t"],
                          "value": [0.5, np.nan, -1e300, 3.0]})
    return RunRecord(
        job=Job(run_id, 0, run_id, 7, (("x", 1),)), status="done", started=1.0, ended=2.0,
        metrics={}, steps=LongSteps.of_frame(steps), events=events, ledger=ledger, counts=counts,
    )  # fmt: skip


def conflicts(n: int, other: bool = False) -> pd.DataFrame:
    rows = [{"step": i // 4, "kind": "conflict", "agent": i % 4, "partner": (i + 1) % 4 - 1,
             **(CONFLICT | {"act": "lie"} if other and i % 3 == 0 else CONFLICT)}
            for i in range(n)]  # fmt: skip
    rows.append({"step": 2, "kind": "shock", "agent": None, "partner": None, "detail": '{"a": 1}'})
    return pd.DataFrame(rows)


@pytest.fixture
def store(tmp_path):
    with Store.create_or_open(tmp_path / "out") as s:
        s.add_sweep(INFO)  # a checked reader refuses runs of no stored sweep
        yield s


@pytest.mark.parametrize(
    ("columns", "deltas"),
    [
        ({"i": np.array([0, 5, -3, 2**40, -(2**62)])}, ()),
        ({"step": np.array([1, 1, 1, 2, 2, 7, 3])}, ("step",)),
        ({"f": np.array([0.1, np.nan, np.inf, -np.inf, -0.0, 1e-300])}, ()),
        ({"b": np.array([True, False, True]), "e": np.array([], dtype=np.int64)}, ()),
    ],
)
def test_packed_columns_round_trip_exactly(columns, deltas):
    got = unpack(pack(columns, deltas=deltas))
    assert list(got) == list(columns)
    for name, values in columns.items():
        want = np.asarray(values)
        assert got[name].tobytes() == want.astype(got[name].dtype).tobytes()


def test_a_foreign_blob_is_refused():
    with pytest.raises(ValueError, match="not a packed-columns blob"):
        unpack(b"not zlib")


@pytest.mark.parametrize(
    ("n", "other", "payloads"),
    [(40, False, 2), (40, True, 3), (1, False, 2)],
)
def test_each_distinct_payload_is_stored_once(store, n, other, payloads):
    store.write_run("s1", "fake", record(0, conflicts(n, other)))
    store.write_run("s1", "fake", record(1, conflicts(n, other)))
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT count(*) FROM event_data").fetchone()[0] == payloads
    assert conn.execute("SELECT sum(rows) FROM event_ledger").fetchone()[0] == 2 * (n + 1)
    assert conn.execute("SELECT sum(count) FROM event_counts").fetchone()[0] == 2 * (n + 1)


def test_events_and_series_read_back_as_written(store):
    written = conflicts(30, other=True)
    store.write_run("s1", "fake", record(3, written))
    reader = Store.open(store.path.parent)
    got = reader.events(kind="conflict")
    data = pd.DataFrame([json.loads(t) for t in got["data"]])
    frame = pd.concat([got.drop(columns="data"), data], axis=1)
    want = written[written["kind"] == "conflict"].dropna(axis=1).assign(run_id=3)
    pd.testing.assert_frame_equal(frame[["run_id", *want.columns[:-1]]],
                                  want[["run_id", *want.columns[:-1]]], check_dtype=False)
    everything = reader.events()
    assert everything["agent"].isna().tolist() == written["agent"].isna().tolist()
    assert json.loads(everything["data"].iloc[-1]) == {"detail": '{"a": 1}'}
    exported = pd.concat(list(store.iter_table("events")), ignore_index=True)
    assert exported["data"].tolist() == everything["data"].tolist()
    steps = reader.steps([3])
    assert steps["value"].tolist()[0] == 0.5 and np.isnan(steps["value"].tolist()[1])
    assert steps["step"].tolist() == [1, 1, 2, 2] and steps["metric"].tolist() == ["w", "t"] * 2


@pytest.mark.parametrize(
    ("ledger", "rows", "counted"),
    [("full", 9, 9), ("counts", 0, 9), ("none", 0, 0)],
)
def test_a_ledger_mode_keeps_what_it_says(store, ledger, rows, counted):
    events = conflicts(8)
    keep = events if ledger == "full" else None
    counts = event_counts(events) if ledger == "counts" else None
    store.write_run("s1", "fake", record(0, keep, ledger, counts))
    assert len(store.events()) == rows
    assert int(store.event_counts()["count"].sum()) == counted
    assert store.ledgers() == {0: ledger}
    assert len(store.steps()) == 4  # the series is kept whatever the ledger


def test_counts_are_per_step_and_distinct_event():
    counts = event_counts(conflicts(12, other=True))
    assert counts["count"].sum() == 13
    assert not counts.duplicated(["step", "kind", "data"]).any()
    first = counts[(counts["step"] == 0) & (counts["kind"] == "conflict")]
    assert sorted(first["count"]) == [2, 2]  # step 0: "lie" at i = 0 and 3, "decline" at 1, 2


def test_replacing_a_run_replaces_its_events(store):
    store.write_run("s1", "fake", record(0, conflicts(8)))
    store.write_run("s1", "fake", record(0, conflicts(3)), replace=True)
    assert len(store.events()) == 4 and int(store.event_counts()["count"].sum()) == 4


@pytest.mark.parametrize("value", ["Full", "", None, "rows"])
def test_an_unknown_ledger_is_one_line(value):
    with pytest.raises(SpecboundError, match="expected one of full, counts, none"):
        check_ledger(value)


def test_an_older_store_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    conn = sqlite3.connect(folder / STORE_FILE)
    for sql in ("CREATE TABLE meta(key, value)", "CREATE TABLE runs(run_id)",
                "CREATE TABLE steps(run_id)", "CREATE TABLE sweeps(sweep_id)",
                "CREATE TABLE events(run_id, step, kind, agent, partner, data)",
                "PRAGMA user_version=1"):  # fmt: skip
        conn.execute(sql)
    conn.commit()
    conn.close()
    for opener in (Store.open, Store.create_or_open, check_folder):
        with pytest.raises(SpecboundError) as err:
            opener(folder)
        text = str(err.value)
        assert "\n" not in text and "version 1" in text and f"version {SCHEMA_VERSION}" in text
        assert str(folder / STORE_FILE) in text and "new --out folder" in text
