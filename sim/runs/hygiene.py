"""Helper processes die with the driver, however the driver dies.

A sweep's driver starts a forkserver, a resource tracker and worker processes.
If the driver is killed (SIGKILL, the OOM killer, a closed terminal) nothing in
``multiprocessing`` stops the workers: they sit on 200 MB each, forever, and a
kill-and-resume cycle piles them up. Two mechanisms, both cheap:

* On Linux, the parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)``): the
  kernel kills the process when its parent exits. Set in the forkserver (its
  parent is the driver) and in every worker (their parent is the forkserver).
* Everywhere, a watchdog thread in each worker polls the driver's pid and exits
  when the driver is gone (a worker's parent is the forkserver, not the driver).

The resource tracker exits on its own once every process holding its pipe is gone.
Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the driver
alone decides how a sweep stops (store consistent, one line, exit 130).

A stop must end the driver too, however the signal found it: its exception is raised
wherever the main thread was, possibly with a lock of the worker pool's left taken. So
every wait on the stop path is bounded: the pool's manager thread gets
``sim.runs.batch.ABANDON_SECONDS``, and one that does not end is given up on
(:func:`give_up_on`); the command's exit (``cli.main.exit_now``) does not wait for it and
leaves within :data:`EXIT_GRACE` seconds whatever its exit handlers do.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

PR_SET_PDEATHSIG = 1
#: Seconds between a worker's checks that its driver still lives.
WATCH_INTERVAL = 1.0
#: Seconds a stopping command's exit handlers may take before it leaves without them.
EXIT_GRACE = 10.0

#: Whether a sweep of this process is stopping on a signal (:func:`stopping`).
_stopping = False
#: Threads a stop could not end (:func:`give_up_on`).
_given_up: list[threading.Thread] = []


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent exits (Linux only).

    Returns whether it was set. If the parent already died before the call, exits now.
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    try:
        # The process's own symbols hold libc's prctl; find_library("c") would run
        # ldconfig in a subprocess (~10 ms) in the forkserver and in every worker.
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent or parent == 1:  # the parent died before the signal was armed
        os._exit(1)
    return True


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (and is not a zombie we could see)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as f:  # a zombie: dead, unreaped
        return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    return True


def watch_driver(driver: int, interval: float = WATCH_INTERVAL) -> threading.Thread:
    """Start a daemon thread that ends this process when ``driver`` is gone."""

    def watch() -> None:
        while alive(driver):
            time.sleep(interval)
        os._exit(1)  # no cleanup to do: the driver owned the store and every result

    thread = threading.Thread(target=watch, name="specbound-driver-watch", daemon=True)
    thread.start()
    return thread


def worker_init(driver: int) -> None:
    """Initializer of sweep worker processes: die with the driver, leave SIGINT to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    watch_driver(driver)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so every cleanup path runs the same way."""

    signum = signal.SIGTERM


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stopping() -> None:
    """Record that a sweep is stopping on a signal: the exit must not wait without a bound."""
    global _stopping
    _stopping = True


def is_stopping() -> bool:
    """Whether :func:`stopping` was called in this process."""
    return _stopping


def give_up_on(thread: threading.Thread) -> None:
    """Record that a stop left ``thread`` running and could not end it: the exit leaves without it."""
    stopping()
    _given_up.append(thread)


def given_up(thread: threading.Thread) -> bool:
    """Whether a stop gave up on ``thread`` (:func:`give_up_on`)."""
    return thread in _given_up  # threads compare by identity


def leave_within(code: int, seconds: float | None = None) -> threading.Thread:
    """End this process with ``code`` in ``seconds`` (default :data:`EXIT_GRACE`) if it is still here.

    A daemon thread, for the exit of a stopped command: whatever then waits (an exit handler,
    a thread that never ends), the command leaves with the code of its stop. It flushes
    nothing: the stop's one line is written when printed (stderr is line-buffered), and a
    flush could wait on the very lock that holds the exit up.
    """
    delay = EXIT_GRACE if seconds is None else seconds

    def leave() -> None:
        time.sleep(delay)
        os._exit(code)

    thread = threading.Thread(target=leave, name="specbound-exit-deadline", daemon=True)
    thread.start()
    return thread
