"""Compiled kernels are optional: imported on first use, and absent where numba is.

Why one place: every compiled kernel (an environment's stretch, a learner's update) is
imported only when it may be used (numba takes most of a second to load), and a missing numba
or llvmlite build, and only that, means "the numpy or generic way"; any other import error
is a bug to raise. In ``agents`` so that policies and environments share it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType

#: Work (decisions or agent-steps) a stretch must hold to be worth numba's import (~0.8 s) while
#: numba is not loaded yet: below it, stepping gives the same results sooner.
KERNEL_MIN_WORK = 10_000


#: Called with a kernel module's name just before it is first imported in this process while
#: no machine code of it is cached (its compilation follows, seconds to a minute). None in
#: library use; ``specbound run`` sets it to say so on a terminal (a silent wait looks hung).
on_cold: Callable[[str], None] | None = None


def optional_module(name: str) -> ModuleType | None:
    """The module ``name`` (a kernel, or numba itself), or None when numba cannot be imported.

    ``sys.modules`` first: ``import_module``'s look-up costs a short run a few per cent."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    if on_cold is not None and name != "numba":
        from agents.kernel_cache import cache_dir, holds

        if not holds(cache_dir(), name):
            on_cold(name)
    try:
        return importlib.import_module(name)
    except ImportError as err:
        if not (err.name or "").startswith(("numba", "llvmlite")):
            raise
        return None


def worth_loading(name: str, work: int, min_work: int = KERNEL_MIN_WORK) -> ModuleType | None:
    """``optional_module(name)`` when numba is loaded already or ``work`` pays for its import;
    None otherwise (the caller steps)."""
    if "numba" not in sys.modules and work < min_work:
        return None
    return optional_module(name)
