"""Imported only as the forkserver's last preload (``sim.runs.pool.PRELOAD``): its imports
done, the server freezes what they made (``sim.runs.heap``) before it forks any worker.

Importing this module anywhere else does nothing: it checks that it runs in the forkserver,
as ``sim.runs.forkserver_guard`` does.
"""

from __future__ import annotations

from sim.runs import heap
from sim.runs.forkserver_guard import in_forkserver

if in_forkserver():
    heap.OWNED = True
    heap.settle()
