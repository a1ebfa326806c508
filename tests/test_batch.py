"""Executors: same records whatever runs them; failures are data; bounded work in flight."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import pandas as pd
import pytest

from agents.errors import SpecboundError
from sim.runs import batch
from sim.runs.batch import (
    AutoExecutor,
    Chunk,
    DaskExecutor,
    Job,
    ProcessExecutor,
    SerialExecutor,
    _bounded,
    chunk_size,
    execute_chunk,
    local_cluster,
    long_steps,
    make_chunks,
    make_executor,
)
from sim.runs.sweep import make_plan
from tests.sweep_fakes import FakeScenario, FakeTask

SCEN = FakeScenario()


@pytest.fixture(scope="module")
def dask_address():
    """One LocalCluster for the module: starting one costs seconds."""
    pytest.importorskip("distributed")
    cluster = local_cluster(2)
    yield cluster.scheduler_address
    cluster.close()


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def records_by_id(executor, task=None) -> dict[int, tuple]:
    plan = make_plan({"x": [0, 1, 2]}, None, 4, 11)
    jobs = list(plan.jobs(0))
    chunks = make_chunks(task or FakeTask(fail_x=2), SCEN.text, SCEN.spec_texts, jobs, 3)
    try:
        out = {}
        for records in executor.map(chunks):
            for r in records:
                out[r.job.run_id] = (
                    r.status,
                    r.metrics,
                    r.steps.frame().to_dict("list") if r.steps is not None else None,
                    None if r.error is None else r.error.splitlines()[-1],
                )
        return out
    finally:
        executor.close()


def test_processes_match_serial():
    serial = records_by_id(SerialExecutor())
    assert len(serial) == 12
    assert records_by_id(ProcessExecutor(2)) == serial


@pytest.mark.parametrize(("min_seconds", "pooled"), [
    (1e9, False),  # a small sweep: the driver runs it all, no pool is started
    (0.0, True),   # a large one: the first run here, the rest on the pool
])
def test_default_executor_picks_from_the_first_run(monkeypatch, min_seconds, pooled):
    monkeypatch.setattr(batch, "POOL_MIN_SECONDS", min_seconds)
    serial = records_by_id(SerialExecutor())
    auto = AutoExecutor(runs=12, workers=2)
    assert records_by_id(auto) == serial
    assert (auto._pool is not None) == pooled


def test_make_executor_without_workers_picks_by_the_work():
    assert isinstance(make_executor(runs=40), AutoExecutor)
    assert isinstance(make_executor(workers=2, runs=40), ProcessExecutor)


def test_dask_matches_serial(dask_address):
    serial = records_by_id(SerialExecutor())
    assert records_by_id(DaskExecutor(dask_address)) == serial


def test_failed_run_keeps_traceback_and_others_go_on():
    records = execute_chunk(
        Chunk(
            FakeTask(fail_x=1), SCEN.text, (), tuple(make_plan({"x": [0, 1]}, None, 1, 0).jobs(0))
        )
    )
    assert [r.status for r in records] == ["done", "failed"]
    failed = records[1]
    assert "Traceback" in failed.error and "fake failure for x=1" in failed.error
    assert failed.metrics == {} and failed.steps is None and failed.ended >= failed.started


@pytest.mark.parametrize(
    ("n_runs", "workers", "expected"),
    [(1, 8, 1), (16, 2, 1), (40, 2, 1), (100, 2, 3), (2000, 2, 32), (10**6, 64, 32), (0, 2, 1)],
)
def test_chunk_size(n_runs, workers, expected):
    assert chunk_size(n_runs, workers) == expected


@pytest.mark.parametrize(
    ("n_jobs", "size", "lengths"), [(7, 3, [3, 3, 1]), (6, 3, [3, 3]), (0, 4, [])]
)
def test_make_chunks_groups_in_order(n_jobs, size, lengths):
    jobs = [Job(i, 0, i, i, ()) for i in range(n_jobs)]
    chunks = list(make_chunks(FakeTask(), "t", {"b": "2", "a": "1"}, jobs, size))
    assert [len(c.jobs) for c in chunks] == lengths
    assert [j.run_id for c in chunks for j in c.jobs] == list(range(n_jobs))
    assert all(c.spec_texts == (("a", "1"), ("b", "2")) for c in chunks)


def test_bounded_never_exceeds_limit():
    pulled, pending_sizes = [], []

    def source():
        for i in range(20):
            pulled.append(i)
            yield i

    def waiter(pending):
        pending_sizes.append(len(pending))
        first = min(pending)
        return {first}, pending - {first}

    done = list(_bounded(lambda c: c, source(), 3, waiter))
    assert sorted(done) == list(range(20))
    assert max(pending_sizes) == 3


def test_long_steps_melts_numeric_columns():
    wide = pd.DataFrame(
        {"a": [1.0, 2.0], "b": [3, 4], "ok": [True, False], "label": ["x", "y"]},
        index=pd.Index([0, 1], name="step"),
    )
    out = long_steps(SimpleNamespace(steps=wide)).frame()
    assert list(out.columns) == ["step", "metric", "value"]
    assert sorted(zip(out["step"], out["metric"], out["value"], strict=True)) == [
        (0, "a", 1.0), (0, "b", 3.0), (0, "ok", 1.0), (1, "a", 2.0), (1, "b", 4.0), (1, "ok", 0.0),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "--workers 0"),
        ({"dask": "http://nowhere"}, "expected 'local' or a scheduler address"),
    ],
)
def test_make_executor_rejects(kwargs, message):
    with pytest.raises(SpecboundError, match=message):
        make_executor(**kwargs)


def test_unreachable_dask_scheduler_is_one_line_and_fast():
    start = time.monotonic()
    with pytest.raises(SpecboundError) as err:
        make_executor(dask=f"tcp://127.0.0.1:{closed_port()}")
    assert "no Dask scheduler reachable" in str(err.value) and "\n" not in str(err.value)
    assert time.monotonic() - start < 15


@pytest.mark.parametrize(("workers", "kind"), [(1, SerialExecutor), (2, ProcessExecutor)])
def test_make_executor_kinds(workers, kind):
    executor = make_executor(workers=workers)
    try:
        assert isinstance(executor, kind) and executor.workers == workers
    finally:
        executor.close()


REAL_GRID = {"groups.defector.spec": ["empty", "honest-first"], "steps": [3]}


@pytest.fixture(scope="module")
def real_serial(tmp_path_factory):
    """The real engine's ipd-classic, tiny, run serially: the reference."""
    from sim.runs.sweep import sweep

    return sweep("ipd-classic", grid=REAL_GRID, runs=2, seed=5, workers=1,
                 out=tmp_path_factory.mktemp("serial"))  # fmt: skip


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_real_engine_gives_identical_results_on_every_executor(
    tmp_path, real_serial, executor, request
):
    from sim.runs.sweep import sweep

    kw = (
        {"workers": 2}
        if executor == "processes"
        else {"dask": request.getfixturevalue("dask_address")}
    )
    frame = sweep("ipd-classic", grid=REAL_GRID, runs=2, seed=5, out=tmp_path / "o", **kw)
    assert (frame["status"] == "done").all() and len(frame) == 4
    pd.testing.assert_frame_equal(frame, real_serial)
