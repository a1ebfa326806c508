"""One writer per output folder: a second sweep is refused naming the holder, or waits (--wait)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agents.errors import SpecboundError
from sim.runs.lock import LOCK_FILE, FolderLock

ROOT = Path(__file__).resolve().parent.parent


def test_a_held_folder_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with FolderLock(tmp_path), pytest.raises(SpecboundError, match=rf"another sweep \(pid {os.getpid()}\).*--wait"):
        FolderLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_FILE).exists()  # released: nothing left behind


def test_a_waiter_gets_the_folder_when_the_holder_releases(tmp_path: Path) -> None:
    holder = FolderLock(tmp_path).acquire()
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(bool(FolderLock(tmp_path, wait=True).acquire())))
    waiter.start()
    waiter.join(0.5)
    assert not got  # still waiting
    holder.release()
    waiter.join(10)
    assert got == [True]


def test_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    code = ("import sys, time; from sim.runs.lock import FolderLock; FolderLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(SpecboundError, match=f"pid {proc.pid}"):
            FolderLock(tmp_path).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    FolderLock(tmp_path).acquire().release()  # the kernel released it


def sweep_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cli", "sweep", "commons", "--grid", "environment.growth=1.2,1.3",
            "--set", "steps=10", "--workers", "1", "--out", str(out), "--no-progress", *extra]


def test_two_sweeps_into_one_folder_at_once(tmp_path: Path) -> None:
    """The drill: the second sweep is refused in one line naming the first's pid; the store is whole."""
    out = tmp_path / "out"
    first = subprocess.Popen(sweep_cmd(out, "--runs", "5000"), cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / LOCK_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = subprocess.run(sweep_cmd(out, "--runs", "5000"), cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert first.poll() is None, "the first sweep ended before the second started"
        first.send_signal(signal.SIGTERM)
        _, first_err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert second.stderr.count("\n") == 1 and f"pid {first.pid}" in second.stderr, second.stderr
    assert first.returncode == 143, first_err
    conn = sqlite3.connect(out / "store.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT run_id) FROM runs").fetchone()
        assert n == distinct
    finally:
        conn.close()
    assert not (out / LOCK_FILE).exists()


@pytest.mark.parametrize("wait", [False, True])
def test_a_sweep_into_a_held_folder(tmp_path: Path, wait: bool, capsys: pytest.CaptureFixture[str]) -> None:
    """In-process: refused naming the holder, or (--wait) run once the holder lets go."""
    from cli.main import main

    out = tmp_path / "out"
    out.mkdir()
    holder = FolderLock(out).acquire()
    if wait:
        threading.Timer(0.5, holder.release).start()
    argv = ["sweep", "commons", "--set", "steps=3", "--runs", "2", "--workers", "1", "--out", str(out),
            "--no-progress", *(["--wait"] if wait else [])]
    try:
        code = main(argv)
    finally:
        holder.release()
    err = capsys.readouterr().err
    if wait:
        assert code == 0, err
        assert (out / "store.sqlite").exists()
    else:
        assert code == 2 and err.count("\n") == 1 and f"pid {os.getpid()}" in err
        assert sorted(p.name for p in out.iterdir()) == []  # nothing written
