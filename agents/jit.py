"""numba's ``njit`` for every compiled kernel, with an on-disk cache keyed on the kernels' sources.

Why: numba's ``cache=True`` checks only the stamp of the file that holds a kernel. A kernel
that calls a jitted helper of another file, or reads a constant imported from one (a bucket
count, a layout), keeps loading machine code compiled from the old helper after that file
changes: stale results with no error. So every kernel module takes ``njit`` from here, and
importing this module first points numba's cache (``NUMBA_CACHE_DIR``) at a directory named
by a hash of every file kernels compile from (``KERNEL_SOURCES``): a change to any of them
starts a fresh cache, and unchanged sources keep their compiled code across processes.

``tests/test_jit_cache.py`` checks the declared list against the kernel modules' imports.
"""

from __future__ import annotations

from agents.kernel_cache import KERNEL_SOURCES, PREFIX, ROOT, cache_dir, configure, sources_key

configure()

from numba import njit  # noqa: E402  (after configure: the decorator reads the cache directory)

from agents import kernel_loader  # noqa: E402

kernel_loader.listen()  # a command that asked to hear of cold compiles hears of them from now on

#: ``njit`` options of a helper only compiled code calls. No Python entry point: it unboxes every
#: array argument (a tuple's members each) and was most of a wide helper's compile time with a
#: cold cache; calling such a helper from Python crashes the process. No C callback wrapper
#: either (nothing uses one).
INNER = {"cache": True, "nogil": True, "no_cpython_wrapper": True, "no_cfunc_wrapper": True}
#: ``njit`` options of a kernel Python calls: its entry point, no C callback wrapper.
OUTER = {"cache": True, "nogil": True, "no_cfunc_wrapper": True}

__all__ = ["INNER", "KERNEL_SOURCES", "OUTER", "PREFIX", "ROOT", "cache_dir", "configure", "njit", "sources_key"]
