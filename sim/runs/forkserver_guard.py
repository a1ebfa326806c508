"""Imported only as a forkserver preload (sim.runs.batch): the forkserver dies with the driver.

The forkserver imports its preload modules at start-up, in its own process, whose
parent is the driver; arming the parent-death signal there means a killed driver
takes the forkserver with it (and, through their own parent-death signal, the
workers it forked). Importing this module anywhere else would arm it in the wrong
process, so it checks that it runs in the forkserver.
"""

from __future__ import annotations

import sys

from sim.runs.hygiene import die_with_parent


def in_forkserver() -> bool:
    """Whether this process is a multiprocessing forkserver (run by ``python -c``)."""
    main = sys.modules.get("__main__")
    return sys.argv[:1] == ["-c"] and getattr(main, "__file__", None) is None and \
        "multiprocessing.forkserver" in sys.modules


if in_forkserver():
    die_with_parent()
