"""A stretch's per-step draws from one ``random_raw`` block, the very numbers numpy's calls give.

Why: a compiled stretch draws every step's numbers up front, and numpy's
``Generator.random`` and ``Generator.integers`` cost ~13 and ~40 ns a number
(a function pointer call per number, the bounded integers' rejection loop);
``PCG64.random_raw`` gives the same 64-bit outputs at ~3 ns, and the
conversions are a few integer operations in a compiled loop.

What numpy does with each raw output (PCG64, numpy 2): a double is its top 53
bits times 2**-53; a bounded integer in ``[0, high)`` takes a 32-bit half
(the low half of a fresh output, whose high half the generator keeps for the
next 32-bit request, even one in a later call: ``has_uint32``/``uinteger``
in its state) and maps it with Lemire's multiply-shift, redrawing a half
whose product's low 32 bits fall below ``(2**32 - high) % high``. A redraw
(a few in 10**9 for small bounds) would shift every later number, so the
block is not used then: the generator is put back and numpy draws.
``tests/test_draw_block.py`` compares both ways, generator state included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.random import PCG64

from agents.jit import njit

#: Bounds the 32-bit path serves (numpy takes other paths for 1 and 2**32).
_HIGH = (2, (1 << 32) - 1)


def per_step(rng: np.random.Generator, k: int, doubles: int, ints: int, high: int,
             state: Any = None) -> tuple[np.ndarray, np.ndarray] | None:
    """What ``k`` steps of ``rng.random(doubles)`` then ``rng.integers(0, high, ints)`` draw,
    as ``(k, doubles)`` floats and ``(k, ints)`` int64, the generator left as they leave it;
    None, nothing drawn, where this path does not apply (the caller draws with numpy).
    ``state``: the generator's state, if the caller has just read it (reading it is not free)."""
    bg = rng.bit_generator
    if type(bg) is not PCG64 or not _HIGH[0] <= high <= _HIGH[1] or min(k, doubles, ints) < 0:
        return None
    st: Any = bg.state if state is None else state
    has, cached = int(st["has_uint32"]), int(st["uinteger"])
    raw = bg.random_raw(_raws(k, doubles, ints, has))
    u, v = np.empty((k, doubles)), np.empty((k, ints), np.int64)
    ok, has_end, cached_end = _fill(raw, np.int64(has), np.uint64(cached), np.uint64(high), u, v)
    if not ok:
        bg.state = st  # a redraw: numpy's own calls from where the stretch started
        return None
    if (int(has_end), int(cached_end)) != (has, cached):
        now = bg.state  # the raw block moved the generator; its 32-bit buffer is set here
        now["has_uint32"], now["uinteger"] = int(has_end), int(cached_end)
        bg.state = now
    return u, v


def draws(rng: np.random.Generator, k: int, doubles: int, ints: int, high: int,
          state: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`per_step`'s numbers always: from the raw block where it applies, else from numpy's
    own calls, step by step, as stepping makes them."""
    drawn = per_step(rng, k, doubles, ints, high, state)
    if drawn is not None:
        return drawn
    u, v = np.empty((k, doubles)), np.empty((k, ints), np.int64)
    for s in range(k):
        rng.random(out=u[s])
        v[s] = rng.integers(0, high, ints)
    return u, v


def _raws(k: int, doubles: int, ints: int, has: int) -> int:
    """Raw outputs ``k`` steps take: a double each, a 32-bit half per integer (the kept half first)."""
    total = 0
    for _ in range(k):
        halves = ints
        if has and halves:
            halves, has = halves - 1, 0
        total += doubles + (halves + 1) // 2
        has = has or halves & 1  # an odd count leaves the last output's high half kept
    return total


@njit(cache=True, nogil=True)
def _fill(raw, has, cached, high, u, v):  # pragma: no cover - compiled
    """Doubles and bounded integers from the raw outputs, step by step; returns (no redraw
    needed, the 32-bit buffer's flag and value after)."""
    k, nd = u.shape
    ni = v.shape[1]
    low32 = np.uint64(0xFFFFFFFF)
    threshold = (np.uint64(1 << 32) - high) % high
    x = 0
    for s in range(k):
        for j in range(nd):
            u[s, j] = np.float64(raw[x] >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            x += 1
        for j in range(ni):
            if has:
                half = cached
                has = 0
            else:
                half = raw[x] & low32
                cached = raw[x] >> np.uint64(32)
                has = 1
                x += 1
            m = half * high
            if (m & low32) < threshold:
                return False, has, cached
            v[s, j] = np.int64(m >> np.uint64(32))
    return True, has, cached
