"""The local worker pool's process start: a forkserver that loads the engine once.

Workers fork from a ``forkserver`` (``spawn`` where there is none): a clean
server process that has imported numpy, pandas, the engine and every shipped
scenario, then forks each worker warm in milliseconds. Forking the driver
itself would copy its threads (BLAS and Arrow pools, a Dask client, a notebook
kernel) and can deadlock a child; the server has none of that. The workers of
``--dask local`` fork from the same server (:func:`sim.runs.batch.local_cluster`),
which then also preloads ``distributed``.

The server starts with one thread per numeric library (:data:`THREAD_LIMITS`,
unless the user set them): its workers share the machine's cores, so a
BLAS, OpenMP or numba pool of one thread per core in each would oversubscribe
them. Dask sets the same limits for the fresh interpreters it starts itself.

The command line calls :func:`prestart_for_argv` before it even builds its
parser: the server's imports (the longest part of a sweep's start-up) then run
on the other core while the driver imports its own modules and loads and
validates the scenario, instead of after them. This module imports nothing of
the engine for that reason.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from multiprocessing.context import BaseContext

#: What the forkserver imports once for all workers: the engine and every shipped scenario;
#: last, ``forkserver_settle`` freezes what the others made (``sim.runs.heap``).
_ENGINE = ("sim.runs.forkserver_guard", "numpy", "pandas", "sim.runs.batch", "sim.runs.run", "scenarios")
PRELOAD = (*_ENGINE, "sim.runs.forkserver_settle")
#: What it imports when the workers are a Dask LocalCluster's: ``distributed`` too.
DASK_PRELOAD = (*_ENGINE, "distributed", "sim.runs.forkserver_settle")
#: Environment the server starts with (read by numpy's BLAS, OpenMP and numba at import).
THREAD_LIMITS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                 "NUMBA_NUM_THREADS": "1"}
#: Commands that may run a sweep on local workers (``run`` only with ``--runs``).
SWEEPING = ("sweep", "demo")


def context(dask: bool = False) -> BaseContext:
    """The multiprocessing context workers start from (forkserver, preloaded).

    ``dask``: preload ``distributed`` too. The preload list only matters until
    the server starts; one server serves the whole process.
    """
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(list(DASK_PRELOAD if dask else PRELOAD))
    return ctx


def prestart(dask: bool = False) -> None:
    """Start the forkserver now, in the background; a later pool finds it warm.

    Returns at once: the server's imports go on in its own process. The
    server inherits :data:`THREAD_LIMITS`; this process's own environment is
    left as it was.
    """
    ctx = context(dask)
    if ctx.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    added = {k: v for k, v in THREAD_LIMITS.items() if k not in os.environ}
    os.environ.update(added)
    try:
        forkserver.ensure_running()
    finally:
        for key in added:
            os.environ.pop(key, None)


def _option(argv: Sequence[str], name: str, shortest: int) -> str | None:
    """The value of ``--name`` in ``argv`` (argparse's unambiguous prefixes and ``=`` too)."""
    for i, token in enumerate(argv):
        flag, eq, value = token.partition("=")
        if len(flag) >= shortest and name.startswith(flag):
            return value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
    return None


def workers_for_argv(argv: Sequence[str]) -> str | None:
    """Which local workers a command line will want, judged from its words alone.

    ``"pool"`` (worker processes), ``"dask"`` (``--dask local``: a LocalCluster
    whose workers fork from the same server) or None (no sweep, ``--workers 1``,
    a remote ``--dask`` scheduler, or a one-core machine,
    where a warming server would only take the driver's core). A guess that
    parsing may still refute (bad input): the cost is a server started in vain,
    which dies with the driver.
    """
    command = argv[0] if argv and not argv[0].startswith("-") else None  # as cli.main reads it
    sweeps = command in SWEEPING or (command == "run" and _option(argv, "--runs", 5) is not None)
    if not sweeps or "-h" in argv or "--help" in argv or (os.cpu_count() or 1) < 2:
        return None
    dask = _option(argv, "--dask", 4)
    if dask is not None:
        return "dask" if dask == "local" else None
    return None if _option(argv, "--workers", 4) == "1" else "pool"


def prestart_for_argv(argv: Sequence[str]) -> str | None:
    """Start the forkserver if this command line will want local workers; return which (see above)."""
    kind = workers_for_argv(argv)
    if kind is not None:
        prestart(dask=kind == "dask")
    return kind
