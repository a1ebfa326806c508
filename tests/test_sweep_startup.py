"""The default worker count's rule, the warm-up it does not time, and a sweep's bad-key wording."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from sim.runs import batch
from sim.runs.batch import AutoExecutor, SerialExecutor, make_chunks, pool_pays
from sim.runs.sweep import make_plan
from tests.sweep_fakes import FakeScenario, FakeTask

SCEN = FakeScenario()


@pytest.mark.parametrize(("runs_left", "seconds", "workers", "pays"), [
    (39, 0.5, 2, True),     # the benchmark's sweep: 10 s saved for 2 s of pool
    (3, 0.3, 2, False),     # under a second of work: the pool's own cost is more
    (1, 30.0, 2, False),    # one run cannot be split, however long
    (2, 5.0, 2, True),      # two long runs side by side: 5 s + 2 s < 10 s
    (3, 1.5, 2, False),     # two rounds of 1.5 s + 2 s is no better than 4.5 s serially
    (100, 10.0, 1, False),  # one worker is the driver
    (0, 1.0, 2, False),     # nothing left
])
def test_the_pool_runs_only_when_it_finishes_sooner(runs_left, seconds, workers, pays):
    assert pool_pays(runs_left, seconds, workers) is pays


@dataclass(frozen=True)
class SlowToWarm(FakeTask):
    """Instant runs behind a long one-off set-up, as the engine's imports are."""

    def warm(self) -> None:
        time.sleep(0.5)


def test_the_first_run_is_timed_after_the_warm_up():
    # Timed with the warm-up, 11 runs would look like 5.5 s of work and take the pool;
    # timed alone they are milliseconds, which the driver finishes itself.
    jobs = list(make_plan({"x": [0, 1, 2]}, None, 4, 11).jobs(0))
    auto = AutoExecutor(runs=len(jobs), workers=2)
    chunks = make_chunks(SlowToWarm(), SCEN.text, SCEN.spec_texts, jobs, 3)
    got = [r.job.run_id for records in auto.map(chunks) for r in records]
    serial = make_chunks(FakeTask(), SCEN.text, SCEN.spec_texts, jobs, 3)
    assert got == [r.job.run_id for records in SerialExecutor().map(serial) for r in records]
    assert auto._pool is None


def test_a_task_without_warm_up_is_timed_as_it_runs(monkeypatch):
    monkeypatch.setattr(batch, "POOL_MIN_SECONDS", -1.0)  # any saving pays: the pool takes the rest
    jobs = list(make_plan({"x": [0, 1]}, None, 2, 3).jobs(0))
    auto = AutoExecutor(runs=len(jobs), workers=2)
    try:
        assert sum(len(r) for r in auto.map(make_chunks(FakeTask(), SCEN.text, {}, jobs, 1))) == 4
        assert auto._pool is not None
    finally:
        auto.close()


@pytest.mark.parametrize(("argv", "message"), [
    (["sweep", "commons", "--set", "evolution=3"], "commons.toml: evolution: expected a table, got 3"),
    (["run", "commons", "--set", "sweep=1"], "commons.toml: sweep: expected a table, got 1"),
])
def test_a_top_level_key_follows_its_file_after_a_colon(tmp_path, capsys, argv, message):
    from cli.main import main

    assert main([*argv, *(["--out", str(tmp_path / "o")] if argv[0] == "sweep" else [])]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "toml." not in err and "\n" not in err, err
    assert not (tmp_path / "o").exists()
