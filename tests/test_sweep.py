"""Sweep driver: planning, paired seeds, resume (also after SIGKILL), refusals, rerun, export."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from agents.errors import SpecboundError
from sim.runs.batch import ExecutorError
from sim.runs.export import export
from sim.runs.store import STORE_FILE, Store
from sim.runs.sweep import make_plan, plan_for, rep_seed, rerun, summary, sweep
from tests.sweep_fakes import COUNTER_ENV, FakeScenario, FakeTask

ROOT = Path(__file__).resolve().parent.parent
SCEN = FakeScenario()


def run_fake(out, task=None, **kw):
    kw.setdefault("workers", 1)
    return sweep(SCEN, out=out, task=task or FakeTask(), **kw)


@pytest.mark.parametrize(
    ("grid", "zipped", "points"),
    [
        (None, None, [{}]),
        ({"x": [1, 2]}, None, [{"x": 1}, {"x": 2}]),
        ({"x": [1, 2], "alpha": [0.5, 1.5]}, None,
         [{"x": 1, "alpha": 0.5}, {"x": 1, "alpha": 1.5}, {"x": 2, "alpha": 0.5}, {"x": 2, "alpha": 1.5}]),
        (None, {"x": [1, 2], "alpha": [0.5, 1.5]}, [{"x": 1, "alpha": 0.5}, {"x": 2, "alpha": 1.5}]),
        ({"label": ["a", "b"]}, {"x": [1, 2], "alpha": [0.5, 1.5]},
         [{"label": "a", "x": 1, "alpha": 0.5}, {"label": "a", "x": 2, "alpha": 1.5},
          {"label": "b", "x": 1, "alpha": 0.5}, {"label": "b", "x": 2, "alpha": 1.5}]),
    ],
)  # fmt: skip
def test_plan_points(grid, zipped, points):
    assert list(make_plan(grid, zipped, 1, 0).points) == points


@pytest.mark.parametrize(
    ("grid", "zipped", "runs", "seed", "message"),
    [
        ({"x": []}, None, 1, 0, "non-empty list"),
        ({"x": 3}, None, 1, 0, "non-empty list"),
        (None, {"x": [1, 2], "alpha": [1.0]}, 1, 0, "same number of values"),
        ({"x": [1]}, {"x": [2]}, 1, 0, "only one"),
        (None, None, 0, 0, "runs 0"),
        (None, None, True, 0, "runs True"),
        (None, None, 1, -1, "seed -1"),
    ],
)
def test_plan_rejects(grid, zipped, runs, seed, message):
    with pytest.raises(SpecboundError, match=message):
        make_plan(grid, zipped, runs, seed)


def test_run_ids_are_planned_and_seeds_depend_on_rep_only():
    jobs = list(make_plan({"x": [1, 2, 3]}, None, 4, 9).jobs(100))
    assert [j.run_id for j in jobs] == list(range(100, 112))
    assert [(j.point, j.rep) for j in jobs[:5]] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    for j in jobs:
        assert j.seed == rep_seed(9, j.rep)
    assert len({rep_seed(9, k) for k in range(4)}) == 4 and rep_seed(9, 0) != rep_seed(10, 0)


def test_seeds_are_paired_across_grid_points(tmp_path):
    frame = run_fake(tmp_path / "o", grid={"x": [1, 5]}, runs=3, seed=4)
    by_point = frame.pivot(index="rep", columns="point", values="seed")
    assert (by_point[0] == by_point[1]).all()
    draws = frame.pivot(index="rep", columns="point", values="draw")
    assert (draws[0] == draws[1]).all()  # same randomness in run k of every point
    gaps = frame.pivot(index="rep", columns="point", values="welfare").diff(axis=1)[1]
    assert gaps.tolist() == pytest.approx([4.0] * 3)


def test_scenario_sweep_table_is_used_when_no_grid_given():
    scen = FakeScenario(sweep={"grid": {"x": [1, 2]}, "runs": 2, "seed": 3})
    assert plan_for(scen, None, None, None, None) == make_plan({"x": [1, 2]}, None, 2, 3)
    assert plan_for(scen, {}, None, None, None).points == ({},)  # `run --runs N`: one point
    assert plan_for(scen, None, None, 5, 0).runs == 5
    with pytest.raises(SpecboundError, match="'grids' is unknown"):
        plan_for(FakeScenario(sweep={"grids": {}}), None, None, None, None)


def test_failing_runs_are_recorded_and_the_sweep_goes_on(tmp_path):
    frame = run_fake(tmp_path / "o", task=FakeTask(fail_x=2), grid={"x": [1, 2, 3]}, runs=2)
    assert frame.groupby("x")["status"].apply(list).to_dict() == {
        1: ["done", "done"], 2: ["failed", "failed"], 3: ["done", "done"],
    }  # fmt: skip
    assert frame.loc[frame.x == 2, "error"].str.contains("ValueError: fake failure for x=2").all()
    table = summary(frame)
    assert table["failed"].tolist() == [0, 2, 0] and table["runs"].tolist() == [2, 2, 2]


@pytest.mark.parametrize("workers", [1, 2])
def test_same_results_whatever_the_worker_count(tmp_path, workers):
    reference = run_fake(tmp_path / "a", grid={"x": [1, 2]}, runs=3, workers=1)
    other = run_fake(tmp_path / "b", grid={"x": [1, 2]}, runs=3, workers=workers)
    pd.testing.assert_frame_equal(reference, other)
    assert Store.open(tmp_path / "b").steps().equals(Store.open(tmp_path / "a").steps())


def test_resume_runs_only_missing_runs_and_retry_failed(tmp_path, monkeypatch):
    counter = tmp_path / "calls.jsonl"
    monkeypatch.setenv(COUNTER_ENV, str(counter))
    out = tmp_path / "o"
    first = run_fake(out, task=FakeTask(fail_x=2), grid={"x": [1, 2]}, runs=2)
    assert len(counter.read_text().splitlines()) == 4
    again = run_fake(out, task=FakeTask(), grid={"x": [1, 2]}, runs=2, resume=True)
    assert len(counter.read_text().splitlines()) == 4  # failed runs count as done
    pd.testing.assert_frame_equal(first, again)
    fixed = run_fake(out, task=FakeTask(), grid={"x": [1, 2]}, runs=2, retry_failed=True)
    assert len(counter.read_text().splitlines()) == 6
    assert fixed["status"].tolist() == ["done"] * 4
    pd.testing.assert_frame_equal(fixed[fixed.x == 1], first[first.x == 1])


def test_changed_sweep_is_refused_then_added_as_new_sweep(tmp_path):
    out = tmp_path / "o"
    first = run_fake(out, grid={"x": [1, 2]}, runs=2)
    db = out / STORE_FILE
    before = sqlite3.connect(db).execute("SELECT * FROM runs ORDER BY run_id").fetchall()
    for change in ({"grid": {"x": [1, 3]}, "runs": 2}, {"grid": {"x": [1, 2]}, "runs": 3},
                   {"grid": {"x": [1, 2]}, "runs": 2, "seed": 5}):  # fmt: skip
        with pytest.raises(SpecboundError, match="differs from this one") as err:
            run_fake(out, **change)
        assert "\n" not in str(err.value)
    second = run_fake(out, grid={"x": [1, 3]}, runs=2, allow_grid_change=True)
    assert second["run_id"].tolist() == [4, 5, 6, 7]
    assert second.attrs["sweep_id"] != first.attrs["sweep_id"]
    after = (
        sqlite3.connect(db)
        .execute("SELECT * FROM runs WHERE run_id < 4 ORDER BY run_id")
        .fetchall()
    )
    assert [r[: len(before[0])] for r in after] == before  # nothing stored was altered
    assert len(Store.open(out).sweeps()) == 2
    # the first sweep can still be resumed (a no-op) without --allow-grid-change
    pd.testing.assert_frame_equal(run_fake(out, grid={"x": [1, 2]}, runs=2), first)


def test_bad_grid_fails_before_anything_is_written(tmp_path):
    out = tmp_path / "o"
    for grid, message in (
        ({"nope": [1]}, "unknown path 'nope'"),
        ({"x": [1, "two"]}, "must be int"),
    ):
        with pytest.raises(SpecboundError, match=message):
            run_fake(out, grid=grid)
    assert not out.exists()


def test_spec_texts_of_every_point_are_stored(tmp_path):
    run_fake(tmp_path / "o", grid={"label": ["a"]})
    assert sorted(Store.open(tmp_path / "o").meta()["specs"]) == ["extra", "plain"]


@pytest.mark.parametrize(("rerun_task", "match"), [(FakeTask(), True), (FakeTask(fail_x=1), False)])
def test_rerun_from_the_store(tmp_path, rerun_task, match):
    frame = run_fake(tmp_path / "o", grid={"x": [1, 2]}, runs=2)
    report = rerun(tmp_path / "o", 1, task=rerun_task)
    assert report["match"] is match and report["seed"] == frame.loc[1, "seed"]
    assert report["params"] == {"x": 1}
    assert bool(report["differences"]) is not match


def test_rerun_unknown_run(tmp_path):
    run_fake(tmp_path / "o")
    with pytest.raises(SpecboundError, match="no run with run_id 7"):
        rerun(tmp_path / "o", 7, task=FakeTask())


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_runs_steps_events(tmp_path, fmt):
    frame = run_fake(tmp_path / "o", grid={"x": [1, 2]}, runs=2, task=FakeTask(fail_x=2))
    paths = export(tmp_path / "o", fmt, tmp_path / "exp")
    assert [p.name for p in paths] == [f"runs.{fmt}", f"steps.{fmt}", f"events.{fmt}",
                                       f"event_counts.{fmt}"]
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    runs, steps, events, counts = (read(p) for p in paths)
    assert runs["run_id"].tolist() == frame["run_id"].tolist()
    assert runs["welfare"].iloc[:2].tolist() == pytest.approx(frame["welfare"].iloc[:2].tolist())
    assert list(steps.columns) == ["run_id", "step", "metric", "value"] and len(steps) == 2 * 5 * 2
    assert sorted(events["kind"].unique()) == ["conflict", "shock"] and len(events) == 4
    assert counts["count"].sum() == len(events)


DRIVER = """
import sys
from sim.runs.sweep import sweep
from tests.sweep_fakes import FakeScenario, FakeTask
sweep(FakeScenario(), grid={"x": [1, 2, 3, 4]}, runs=10, out=sys.argv[1], workers=1,
      task=FakeTask(delay=0.03), progress=False)
"""


def stored_ids(db: Path) -> list[int]:
    if not db.exists():
        return []
    try:
        with Store.open(db.parent) as store:  # a second connection while the sweep writes
            return store.runs()["run_id"].tolist()
    except (SpecboundError, sqlite3.OperationalError, pd.errors.DatabaseError):
        return []  # the store is being created


def test_sigkill_then_resume_ends_with_exactly_the_planned_runs(tmp_path, monkeypatch):
    counter = tmp_path / "calls.jsonl"
    out = tmp_path / "o"
    env = {**os.environ, COUNTER_ENV: str(counter), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(out)], cwd=ROOT, env=env)
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while len(seen) < 8 and time.monotonic() < deadline and proc.poll() is None:
        seen = stored_ids(out / STORE_FILE)
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = stored_ids(out / STORE_FILE)
    assert 8 <= len(before) < 40, "the sweep should be killed part-way"
    assert before == sorted(set(before))
    monkeypatch.setenv(COUNTER_ENV, str(counter))
    frame = sweep(
        SCEN, grid={"x": [1, 2, 3, 4]}, runs=10, out=out, workers=1, task=FakeTask(), resume=True
    )
    assert frame["run_id"].tolist() == list(range(40))
    assert (frame["status"] == "done").all()
    calls = [json.loads(line) for line in counter.read_text().splitlines()]
    counts = pd.Series([(c["params"]["x"], c["seed"]) for c in calls]).value_counts()
    stored_before = frame[frame["run_id"].isin(before)]
    for x, seed in zip(stored_before["x"], stored_before["seed"], strict=True):
        assert counts[(x, seed)] == 1, "a run stored before the kill was rerun"
    assert set(counts.index) == set(zip(frame["x"], frame["seed"], strict=True))
    with sqlite3.connect(out / STORE_FILE) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT run_id) FROM runs").fetchone() == (
            40,
            40,
        )
        per_run = conn.execute("SELECT rows FROM series").fetchall()
        assert len(per_run) == 40 and {n for (n,) in per_run} == {10}  # 5 steps x 2 metrics, never a half-written run


def test_real_engine_stores_every_spec_and_reruns_exactly(tmp_path):
    grid = {"groups.defector.spec": ["empty", "honest-first"], "steps": [3]}
    level = {"specs.honest-first.principles.protect_reserve.level": ["root", "user"]}
    frame = sweep(
        "ipd-classic", grid=grid, zip=level, runs=2, seed=1, out=tmp_path / "o", workers=1
    )
    assert len(frame) == 8
    assert (frame["status"] == "done").all()
    meta = Store.open(tmp_path / "o").meta()
    assert {"empty", "honest-first", "platform"} <= set(meta["specs"])
    assert set(meta["hashes"]) == {"scenario", *(f"spec:{k}" for k in meta["specs"])}
    assert meta["code_version"]
    for run_id in (0, 7):
        report = rerun(tmp_path / "o", run_id)
        assert report["match"], report["differences"]
    steps = Store.open(tmp_path / "o").steps([0])
    assert sorted(steps["step"].unique()) == [1, 2, 3]  # the engine numbers steps from 1
    assert len(steps) == 3 * steps["metric"].nunique()


def test_resume_takes_the_stored_grid(tmp_path, monkeypatch):
    counter = tmp_path / "calls.jsonl"
    monkeypatch.setenv(COUNTER_ENV, str(counter))
    first = run_fake(tmp_path / "o", grid={"x": [1, 2]}, runs=2, seed=3)
    again = run_fake(tmp_path / "o", resume=True)
    pd.testing.assert_frame_equal(first, again)
    assert len(counter.read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("setup", "message"),
    [(False, "holds no sweep to resume"), (True, "no sweep of scenario 'other'")],
)
def test_resume_without_a_stored_sweep(tmp_path, setup, message):
    if setup:
        run_fake(tmp_path / "o")
    with pytest.raises(SpecboundError, match=message):
        sweep(FakeScenario(id="other"), out=tmp_path / "o", resume=True, task=FakeTask(), workers=1)


def test_a_dead_worker_stops_the_sweep_cleanly_and_resume_finishes_it(tmp_path):
    out = tmp_path / "o"
    with pytest.raises(ExecutorError, match="worker process died"):
        run_fake(out, task=FakeTask(die_x=4), grid={"x": [1, 2, 3, 4]}, runs=3, workers=2)
    stored = Store.open(out).runs()
    assert (stored["status"] == "done").all() and 4 not in set(stored["x"])
    frame = run_fake(out, grid={"x": [1, 2, 3, 4]}, runs=3, workers=2)
    assert frame["run_id"].tolist() == list(range(12)) and (frame["status"] == "done").all()


def test_a_repeated_grid_value_is_refused_but_zip_rows_may_repeat_one() -> None:
    from agents.errors import SpecboundError
    from sim.runs.sweep import make_plan

    with pytest.raises(SpecboundError, match="given twice"):
        make_plan({"x": [1, 1]}, None, 1, 0)
    plan = make_plan(None, {"x": [1, 1], "y": [2, 3]}, 1, 0)
    assert len(plan.points) == 2
