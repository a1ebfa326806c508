"""The long-lived heap of a process the command line owns, kept out of full collections.

Why: a sweep's process holds ~140,000 objects that live as long as it does (numpy, pandas,
mesa and the engine's modules, the kept tables and templates), and each of the cycle
collector's full passes walks all of them. At 4,000 agents a ``trust-network`` run spent
about a seventh of its CPU in those passes. ``gc.freeze`` moves what exists to a generation
the collector never walks; the runs' own objects are collected as before.

Only in processes specbound owns: a command-line driver (``OWNED``, set by the command line
before it runs anything) and the worker pool's forkserver (``sim.runs.forkserver_settle``),
whose workers inherit the frozen heap and, walking it no more, also leave its pages shared
with the server. Never in a library caller's process: freezing a notebook's own garbage would
keep it for good.
"""

from __future__ import annotations

import gc

#: Whether this process is the command line's own (``cli.main``): only then may it be frozen.
OWNED = False
_settled = False


def settle() -> None:
    """Collect, then freeze what is left, once per process (and only if ``OWNED``).

    Called after the engine is imported and before runs start, so what it freezes is the
    long-lived part; objects made later are collected as usual.
    """
    global _settled
    if not OWNED or _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
