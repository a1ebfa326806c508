"""Mesa, imported without its loggers' walks of the stack.

Why: at import, mesa names each module logger from ``inspect.stack()`` and each
``method_logger`` its class from ``inspect.getouterframes``. Both read the source line
of every frame on the stack, and for importlib's frozen frames walk every loaded module
looking for a file that is not there. Deep in a command's imports, with numpy, pandas,
scipy and networkx loaded, ``import mesa`` took 210-260 ms, 110-150 ms with this. While
mesa imports, the two functions return the same frames, file names, line numbers and
function names with no source lines, which is all mesa reads of them; they are put back
before it returns.

Every module of the project imports mesa from here, so whichever imports it first
imports it this way.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from types import FrameType, ModuleType
from typing import TYPE_CHECKING


def outer_frames(frame: FrameType | None, context: int = 1) -> list[inspect.FrameInfo]:
    """``inspect.getouterframes(frame)`` without source lines (``context`` is ignored)."""
    out = []
    while frame is not None:
        code = frame.f_code
        out.append(inspect.FrameInfo(frame, code.co_filename, frame.f_lineno, code.co_name, None, None))
        frame = frame.f_back
    return out


def stack(context: int = 1) -> list[inspect.FrameInfo]:
    """``inspect.stack()`` without source lines: the caller's frame first."""
    return outer_frames(sys._getframe(1), context)


def load() -> ModuleType:
    """The ``mesa`` package, imported with :func:`stack` and :func:`outer_frames` in place."""
    if "mesa" in sys.modules:
        return sys.modules["mesa"]
    saved = inspect.stack, inspect.getouterframes
    inspect.stack, inspect.getouterframes = stack, outer_frames
    try:
        return importlib.import_module("mesa")
    finally:
        inspect.stack, inspect.getouterframes = saved


if TYPE_CHECKING:
    import mesa as mesa  # what the checker sees: mesa itself
else:
    mesa = load()
