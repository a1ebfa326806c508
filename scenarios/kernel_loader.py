"""Compiled kernels are optional: imported on first use, and absent where numba is.

Why one place: every environment with a compiled stretch imports its kernel only when a
stretch may use it (numba takes most of a second to load), and treats a missing numba or
llvmlite build, and only that, as "step the generic way"; any other import error is a bug
to raise.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str) -> ModuleType | None:
    """The module ``name`` (a kernel, or numba itself), or None when numba cannot be imported."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        if not (err.name or "").startswith(("numba", "llvmlite")):
            raise
        return None
