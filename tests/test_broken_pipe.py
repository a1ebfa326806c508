"""A broken pipe is a quiet exit only when it is standard output's reader that left.

`specbound list | head` closes the pipe early: exit 0, nothing said. A broken pipe
to anything else (a killed sweep worker, say) is ours to report: it once turned an
interrupted sweep into exit 0 with an empty stderr (test_process_hygiene, now and then).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cli.base as base

ROOT = Path(__file__).resolve().parent.parent


def _raising(args: argparse.Namespace) -> int:
    raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_elsewhere_is_an_internal_error(capsys, monkeypatch) -> None:
    monkeypatch.setattr(base, "_stdout_gone", lambda: False)
    assert base.dispatch(argparse.Namespace(func=_raising, plugins=[])) == 1
    assert "internal error: BrokenPipeError" in capsys.readouterr().err


def test_stdout_reader_gone_is_a_quiet_exit() -> None:
    # A real pipe whose reader is closed before the command writes.
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); time.sleep(0.3)\n"
            "from cli.base import _stdout_gone\n"
            "sys.stderr.write(str(_stdout_gone()))\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(ROOT)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert err.decode() == "True"


def test_a_live_stdout_pipe_is_not_gone() -> None:
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from cli.base import _stdout_gone\n"
            "sys.stderr.write(str(_stdout_gone()))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, timeout=60)
    assert proc.stderr.decode() == "False"
