"""Open addressing for compiled tables of non-negative int64 keys: a slot per key by Fibonacci
hashing, probed linearly, -1 marking empty; and the table of key -> cell the engine's sparse
decision tables (``sim.hashed_cells``) and the trust game's loop (``scenarios.trust_game_kernel``)
file their cells in.

Why: the keys this engine makes (``agent * stride + partner``, ``decider * space + code``) are
regular and widely spaced; multiplying by 2^64 over the golden ratio and keeping the top bits
spreads them over the table where their low bits alone would collide. In ``agents`` so that
both ``sim`` and ``scenarios`` can import it (``sim.moves_kernel``, ``sim.rewire_kernel`` probe
tables of their own layout with :func:`slot`).

Slot order is nobody's output: every user finds a key by its value, so the hash may change
without changing a result (only probe lengths).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.jit import njit

__all__ = ["EMPTY", "SPREAD", "find", "put", "shift_of", "slot", "table_bits"]

#: 2^64 over the golden ratio.
SPREAD = np.uint64(0x9E3779B97F4A7C15)
#: The key of an empty slot.
EMPTY = -1


def table_bits(keys: int) -> int:
    """log2 of a table's slots for ``keys`` keys: at most half full, so probes stay short."""
    return max(4, (2 * max(keys, 1) - 1).bit_length())


# Scalars only, inlined: an inlined helper taking the table would cost a reference count a call.
# Options written out (not ``agents.jit.INNER``): numba's stubs type only named keywords.
@njit(cache=True, nogil=True, inline="always")
def slot(key: Any, shift: Any) -> Any:  # pragma: no cover - compiled
    """The first slot of ``key`` in a table of ``2 ** (64 - shift)`` slots."""
    return np.int64((np.uint64(key) * SPREAD) >> shift)


@njit(cache=True, nogil=True, inline="always")
def shift_of(size: Any) -> Any:  # pragma: no cover - compiled
    """The :func:`slot` shift of a table of ``size`` slots (a power of two): once a call, not a key."""
    bits = 0
    while (1 << bits) < size:
        bits += 1
    return np.uint64(64 - bits)


@njit(cache=True, nogil=True)
def put(slot_key: np.ndarray, slot_cell: np.ndarray, keys: np.ndarray,
        cells: np.ndarray) -> Any:  # pragma: no cover - compiled
    """File each of ``keys`` (non-negative) under its cell in a table of a power of two slots at
    most half full after; a key filed already takes its new cell. Returns how many were new."""
    mask = slot_key.shape[0] - 1
    shift = shift_of(slot_key.shape[0])
    added = 0
    for i in range(keys.shape[0]):
        key = keys[i]
        h = slot(key, shift)
        while slot_key[h] != EMPTY and slot_key[h] != key:
            h = (h + 1) & mask
        if slot_key[h] == EMPTY:
            added += 1
        slot_key[h] = key
        slot_cell[h] = cells[i]
    return added


@njit(cache=True, nogil=True)
def find(slot_key: np.ndarray, slot_cell: np.ndarray, keys: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The cell of each of ``keys``, -1 for a key the table does not hold."""
    mask = slot_key.shape[0] - 1
    shift = shift_of(slot_key.shape[0])
    out = np.full(keys.shape[0], -1, np.int64)
    for i in range(keys.shape[0]):
        key = keys[i]
        h = slot(key, shift)
        while slot_key[h] != EMPTY:
            if slot_key[h] == key:
                out[i] = slot_cell[h]
                break
            h = (h + 1) & mask
    return out
