"""One writer per output folder: an advisory lock the operating system releases on death.

Two sweeps writing one store at once race on schema changes (both add the same
metric column) and interleave run ids. A sweep holds an exclusive ``flock`` on
``DIR/.specbound.lock`` while it writes; the file records the holder's pid so a
refusal can name it. The kernel drops the lock when the holder dies, however it
dies, so a killed sweep never leaves the folder locked. The file is removed on
release; a waiter that wakes on a removed file tries again on the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from agents.errors import SpecboundError

LOCK_FILE = ".specbound.lock"
#: Seconds between tries while waiting (``--wait``) for the holder to finish.
POLL = 0.2


class FolderLock:
    """An exclusive lock on an output folder; use as a context manager.

    Args:
        folder: the output folder (must exist).
        wait: block until the holder releases it, instead of refusing.
    """

    def __init__(self, folder: str | os.PathLike, *, wait: bool = False) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.wait = wait
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock; SpecboundError naming the holder's pid if it is held and not waiting."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                if not self.wait:
                    raise SpecboundError(
                        f"{self.path.parent}: another sweep (pid {holder or 'unknown'}) is writing into "
                        "this folder; wait for it (--wait), or use another --out") from None
                time.sleep(POLL)
                continue
            # The holder may have removed the file between our open and our lock: then we
            # hold a lock on a name nobody else sees; start again on the current file.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return self

    def release(self) -> None:
        """Remove the lock file and drop the lock (removal first, while it is still ours)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text.isdigit() else None
    except (OSError, ValueError):
        return None
