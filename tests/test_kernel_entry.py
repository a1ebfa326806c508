"""``agents.kernel_entry.Entry``: the dispatcher's overload per argument layout, called directly."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from agents.kernel_entry import Entry


class Pack(NamedTuple):
    a: np.ndarray
    scale: float


@njit(cache=False)
def _sum_draw(pack: Pack, rng: np.random.Generator) -> float:  # pragma: no cover - compiled
    out = 0.0
    for x in pack.a:
        out += x * pack.scale
    return out + rng.random()


def test_entry_matches_the_dispatcher_and_keeps_one_overload_per_layout() -> None:
    entry = Entry(_sum_draw)
    floats, ints = Pack(np.arange(5, dtype=np.float64), 2.0), Pack(np.arange(5, dtype=np.int32), 2.0)
    for pack in (floats, floats, ints, ints):
        mine, theirs = np.random.default_rng(3), np.random.default_rng(3)
        assert entry(pack, mine) == _sum_draw(pack, theirs)
        # The generator advanced as the dispatcher's call advances it.
        assert mine.bit_generator.state == theirs.bit_generator.state
    # Two layouts, two entries: an int32 array is not unboxed by the float64 overload.
    assert len(entry.entries) == 2


def test_entry_leaves_what_has_no_fingerprint_to_the_dispatcher() -> None:
    entry = Entry(_sum_draw)

    class Rng(np.random.Generator):
        pass

    rng = Rng(np.random.PCG64(3))
    assert entry(Pack(np.ones(3), 1.0), rng) == _sum_draw(Pack(np.ones(3), 1.0), np.random.default_rng(3))
    assert not entry.entries
