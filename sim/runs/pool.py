"""The local worker pool's process start: a forkserver that loads the engine once.

Workers fork from a ``forkserver`` (``spawn`` where there is none): a clean
server process that has imported numpy, pandas, the engine and every shipped
scenario, then forks each worker warm in milliseconds. Forking the driver
itself would copy its threads (BLAS and Arrow pools, a Dask client, a notebook
kernel) and can deadlock a child; the server has none of that.

A sweep command calls :func:`prestart` as soon as it has parsed its command
line, before the driver imports the engine itself: the server's imports then
run on the other core while the driver loads and validates the scenario,
instead of after it. This module imports nothing of the engine for that reason.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext

#: What the forkserver imports once for all workers: the engine and every shipped scenario.
PRELOAD = ("sim.runs.forkserver_guard", "numpy", "pandas", "sim.runs.batch", "sim.runs.run", "scenarios")


def context() -> BaseContext:
    """The multiprocessing context workers start from (forkserver, preloaded)."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(list(PRELOAD))
    return ctx


def prestart() -> None:
    """Start the forkserver now, in the background; a later pool finds it warm.

    Returns at once: the server's imports go on in its own process.
    """
    ctx = context()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
