"""A signalled sweep always exits: no wait on its stop path is unbounded (``sim.runs.hygiene``).

The hang ``test_sigterm_inside_futures_wait_still_exits`` reproduces, deterministically:
SIGTERM's exception, raised in the driver's main thread inside ``concurrent.futures.wait()``
between the loop that takes the pending futures' locks and its ``with``, leaves those locks
taken. The pool's manager thread, settling those futures, waits for them forever; so did
``abandon()``, which joined it, and the interpreter's exit, which joins it too. The stop drill
(tests/test_process_hygiene.py) hung once in CI in a way this fits; there the signal lands in
that window by chance only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.runs import batch
from sim.runs.batch import AutoExecutor, make_chunks
from sim.runs.sweep import make_plan
from tests.sweep_fakes import FakeScenario, FakeTask
from tests.test_process_hygiene import assert_store_whole, session_members, stored_runs, wait_for

ROOT = Path(__file__).resolve().parent.parent

#: A sweep of fakes on two workers that sends itself SIGTERM inside concurrent.futures'
#: lock-taking loop, once, with the first pending future's lock taken; then the command's exit.
#: argv: out folder, a file made when the signal is sent, "fix" or "bound" (whether abandon()
#: may release the locks the signal left, or must get past them by its bounded wait).
SIGNALLED_SWEEP = r'''
import os, signal, sys
from concurrent.futures import _base
from pathlib import Path

from cli.main import exit_now
from sim.runs import batch, hygiene
from sim.runs.sweep import SweepInterrupted, sweep
from tests.sweep_fakes import FakeScenario, FakeTask

out, mark, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
waits = 0


def enter(self):
    """_AcquireFutures.__enter__ as CPython has it, with the signal delivered inside the loop."""
    global waits
    waits += 1
    for i, future in enumerate(self.futures):
        future._condition.acquire()
        if waits >= 3 and i == 0 and len(self.futures) > 1 and not future.done() \
                and not mark.exists():
            mark.touch()
            os.kill(os.getpid(), signal.SIGTERM)  # raised at the loop's next check


if __name__ == "__main__":
    _base._AcquireFutures.__enter__ = enter
    if mode == "bound":
        batch._release_held = lambda futures: None
        batch.ABANDON_SECONDS = 1.0
    try:
        sweep(FakeScenario(), grid={"x": [1, 2]}, runs=100, out=out, workers=2,
              task=FakeTask(delay=0.02), progress=False)
    except SweepInterrupted as stop:
        print(f"specbound: {stop}", file=sys.stderr)
        print(f"given up on {len(hygiene._given_up)}")
        exit_now(128 + stop.signum)
    exit_now(0)
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("mode", ["fix", "bound"])
def test_sigterm_inside_futures_wait_still_exits(tmp_path: Path, mode: str) -> None:
    out, mark = tmp_path / "out", tmp_path / "signalled"
    proc = subprocess.Popen(
        [sys.executable, "-c", SIGNALLED_SWEEP, str(out), str(mark), mode], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # Start-up (the forkserver's imports) may be slow on a loaded machine; the stop may not.
        assert wait_for(lambda: mark.exists() or proc.poll() is not None, 120)
        signalled = time.monotonic()
        try:
            stdout, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the sweep had not exited 30 s after the signal")
        assert mark.exists(), f"the signal was never sent: {err[-3000:]}"
        assert time.monotonic() - signalled < 30
        assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
        # "fix": the manager thread ended; "bound": the stop gave up on it, and left all the same
        assert stdout.split() == ["given", "up", "on", "0" if mode == "fix" else "1"]
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "runs stored" in lines[0], err[-3000:]
        assert wait_for(lambda: not session_members(proc.pid), 30), session_members(proc.pid)
        assert stored_runs(out) > 0
        assert_store_whole(out)
    finally:
        for pid in session_members(proc.pid):
            os.kill(pid, signal.SIGKILL)


#: A stopped command whose exit meets a thread the stop gave up on and an exit handler that
#: never returns.
STUCK_EXIT = r'''
import atexit, sys, threading

from cli.main import exit_now
from sim.runs import hygiene

hygiene.EXIT_GRACE = 1.0
never = threading.Event()
stuck = threading.Thread(target=never.wait, name="stuck")  # not a daemon: exit would join it
stuck.start()
hygiene.give_up_on(stuck)
if sys.argv[1] == "handler":
    atexit.register(never.wait)
print("specbound: interrupted (SIGTERM): 3 of 9 runs stored; repeat the command to resume",
      file=sys.stderr)
exit_now(143)
'''


@pytest.mark.parametrize("stuck", ["thread", "handler"])
def test_a_stopped_command_leaves_whatever_its_exit_meets(stuck: str) -> None:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", STUCK_EXIT, stuck], cwd=ROOT, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True)
    assert proc.returncode == 143, proc.stderr[-3000:]
    assert proc.stderr.splitlines() == [
        "specbound: interrupted (SIGTERM): 3 of 9 runs stored; repeat the command to resume"]
    assert time.monotonic() - start < 30


def test_the_default_executor_abandons_its_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without --workers a large sweep runs on AutoExecutor's pool: a stop must kill its workers,
    # not leave the exit to wait for their chunks in flight (whose records would not be stored).
    monkeypatch.setattr(batch, "POOL_MIN_SECONDS", -1.0)  # any saving pays: the pool takes the rest
    jobs = list(make_plan({"x": [0, 1]}, None, 50, 3).jobs(0))
    auto = AutoExecutor(runs=len(jobs), workers=2)
    records = auto.map(make_chunks(FakeTask(delay=0.05), FakeScenario().text, {}, jobs, 4))
    try:
        next(records)  # the first run, here
        next(records)  # the pool's first chunk: the others are in flight
        assert auto._pool is not None
        pool = auto._pool._pool
        workers = list(pool._processes.values())
        assert auto.abandon()
        for process in workers:
            process.join(10)
        assert not any(p.is_alive() for p in workers)
        assert batch._POOLS.get(2) is not pool
    finally:
        auto.close()
