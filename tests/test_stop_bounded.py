"""A signalled sweep always exits: no wait on its stop path is unbounded (``sim.runs.hygiene``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

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
