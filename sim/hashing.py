"""Open addressing for compiled tables of non-negative int64 keys (``sim.moves_kernel``,
``sim.cells_kernel``): a slot per key by Fibonacci hashing, probed linearly, -1 marking empty.

Why: the keys this engine makes (``agent * stride + partner``, ``decider * space + code``) are
regular and widely spaced; multiplying by 2^64 over the golden ratio and keeping the top bits
spreads them over the table where their low bits alone would collide.
"""

from __future__ import annotations

import numpy as np

from agents.jit import INNER, njit

#: 2^64 over the golden ratio.
SPREAD = np.uint64(0x9E3779B97F4A7C15)


def table_bits(keys: int) -> int:
    """log2 of a table's slots for ``keys`` keys: at most half full, so probes stay short."""
    return max(4, (2 * max(keys, 1) - 1).bit_length())


@njit(**INNER)
def slot(key: int, shift: np.uint64) -> int:  # pragma: no cover - compiled
    """The first slot of ``key`` in a table of ``2 ** (64 - shift)`` slots."""
    return np.int64((np.uint64(key) * SPREAD) >> shift)
