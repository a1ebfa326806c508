"""The compact events store: each distinct payload once, exact round trip, old stores refused."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

from agents.errors import SpecboundError
from sim.runs.records import Job, RunRecord
from sim.runs.store import SCHEMA_VERSION, STORE_FILE, Store, check_folder

CONFLICT = {"act": "decline", "winner": "do_not_lie", "loser": "help", "reason": "root wins"}


def record(run_id: int, events: pd.DataFrame) -> RunRecord:
    return RunRecord(
        job=Job(run_id, 0, run_id, 7, (("x", 1),)), status="done", started=1.0, ended=2.0,
        metrics={}, steps=pd.DataFrame({"step": [0], "metric": ["w"], "value": [0.5]}),
        events=events,
    )  # fmt: skip


def conflicts(n: int, other: bool = False) -> pd.DataFrame:
    rows = [{"step": i // 4, "kind": "conflict", "agent": i % 4, "partner": (i + 1) % 4,
             **(CONFLICT | {"act": "lie"} if other and i % 3 == 0 else CONFLICT)}
            for i in range(n)]  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture
def store(tmp_path):
    with Store.create_or_open(tmp_path / "out") as s:
        yield s


@pytest.mark.parametrize(
    ("n", "other", "payloads"),
    [(40, False, 1), (40, True, 2), (1, False, 1)],
)
def test_each_distinct_payload_is_stored_once(store, n, other, payloads):
    store.write_run("s1", "fake", record(0, conflicts(n, other)))
    store.write_run("s1", "fake", record(1, conflicts(n, other)))
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT count(*) FROM event_data").fetchone()[0] == payloads
    assert conn.execute("SELECT count(*) FROM event_rows").fetchone()[0] == 2 * n


def test_reassembled_events_equal_what_was_written(store):
    written = conflicts(30, other=True)
    store.write_run("s1", "fake", record(3, written))
    got = Store.open(store.path.parent).events(kind="conflict")
    data = pd.DataFrame([json.loads(t) for t in got["data"]])
    frame = pd.concat([got.drop(columns="data"), data], axis=1)
    want = written.assign(run_id=3)[["run_id", *written.columns]]
    pd.testing.assert_frame_equal(frame[want.columns], want, check_dtype=False)
    exported = pd.concat(list(store.iter_table("events")), ignore_index=True)
    assert exported["data"].tolist() == store.events()["data"].tolist()


def test_replacing_a_run_replaces_its_events(store):
    store.write_run("s1", "fake", record(0, conflicts(8)))
    store.write_run("s1", "fake", record(0, conflicts(3)), replace=True)
    assert len(store.events()) == 3


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
        assert "new --out folder" in text
