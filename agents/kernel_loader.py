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


#: Called once, with the function's module, when numba first compiles a function in this
#: process (a cold cache: its compile follows, seconds to a minute). None in library use;
#: ``specbound run`` sets it through :func:`announce_compiles` (a silent wait looks hung).
on_cold: Callable[[str], None] | None = None


def announce_compiles(say: Callable[[str], None] | None) -> None:
    """Call ``say`` once when numba first compiles in this process (None: stop asking).

    numba raises its ``numba:compile`` event only when a function is compiled, never when its
    machine code is loaded from the cache, so the event is the cold cache itself. Listened to
    as soon as numba is loaded (``agents.jit`` calls :func:`listen`), not before."""
    global on_cold
    on_cold = say
    if "agents.jit" in sys.modules:
        listen()


def listen() -> None:
    """Register the compile listener, once, if someone asked (:func:`announce_compiles`)."""
    if on_cold is None or _LISTENER:
        return
    from numba.core import event

    class Once(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            global on_cold
            say, on_cold = on_cold, None
            if say is not None:
                say(ev.data["dispatcher"].py_func.__module__)

        def on_end(self, ev: event.Event) -> None:
            pass

    _LISTENER.append(Once())
    event.register("numba:compile", _LISTENER[0])  # type: ignore[no-untyped-call]


#: The listener registered (at most one a process).
_LISTENER: list[object] = []


def optional_module(name: str) -> ModuleType | None:
    """The module ``name`` (a kernel, or numba itself), or None when numba cannot be imported.

    ``sys.modules`` first: ``import_module``'s look-up costs a short run a few per cent."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
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
