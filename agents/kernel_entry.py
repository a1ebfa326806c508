"""A compiled function called through its entry point, its argument types found once per layout.

Why: numba's dispatcher types each call's arguments; tuples of arrays go through its C
fingerprints, but a ``numpy.random.Generator`` goes through Python (``typeof_pyval``), and a
fresh model's generators cost more again. trust-game's loop takes two of them per call:
~0.1-0.2 ms a call at 10^3 agents, against ~0.4 ms for a step. :class:`Entry` keys each call
by the fingerprints numba itself types by (a generator by its exact class, which numba types
alike whatever its state) and calls the overload the dispatcher chose for that key the first
time: the same machine code, with the same arguments unboxed, minus the typing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # numba's private C helper: without it (another numba) every call goes through the dispatcher
    from numba._dispatcher import compute_fingerprint
except ImportError:  # pragma: no cover - depends on the installed numba
    compute_fingerprint = None  # type: ignore[assignment]

#: A generator's place in a key: numba types every ``numpy.random.Generator`` the same.
_GENERATOR = b"numpy.random.Generator"


class Entry:
    """``dispatcher``'s compiled overloads by argument layout (per process)."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        self.entries: dict[tuple[bytes, ...], Any] = {}

    def __call__(self, *args: Any) -> Any:
        key = self._key(args)
        fn = self.entries.get(key) if key is not None else None
        if fn is not None:
            return fn(*args)
        out = self.dispatcher(*args)  # compiles or loads the overload, typing the arguments
        if key is not None:
            sig = tuple(self.dispatcher.typeof_pyval(a) for a in args)
            cres = getattr(self.dispatcher, "overloads", {}).get(sig)
            entry = getattr(cres, "entry_point", None)
            if entry is not None:
                self.entries[key] = entry
        return out

    @staticmethod
    def _key(args: tuple[Any, ...]) -> tuple[bytes, ...] | None:
        """The arguments' numba fingerprints; None when one has none (the dispatcher then types it)."""
        if compute_fingerprint is None:
            return None
        key = []
        for a in args:
            if type(a) is np.random.Generator:
                key.append(_GENERATOR)
                continue
            try:
                key.append(compute_fingerprint(a))
            except (NotImplementedError, ValueError, TypeError):
                return None
        return tuple(key)
