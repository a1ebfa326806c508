"""sim.network.pairs_above: a complete graph's pairs, as np.triu_indices lists them."""

from __future__ import annotations

import numpy as np

from sim.network import PAIRS_KEEP_N, pairs_above


def test_pairs_above_is_triu_indices() -> None:
    for n in (*range(0, 40), PAIRS_KEEP_N + 1, *range(0, 40)):  # twice: the kept arrays too
        ref = np.stack(np.triu_indices(n, 1), axis=1).astype(np.int64)
        got = pairs_above(n)
        assert got.dtype == ref.dtype and np.array_equal(got, ref), n
    a, b = pairs_above(5), pairs_above(5)
    a[0, 0] = 99  # each call's array is its own
    assert b[0, 0] == 0 and pairs_above(5)[0, 0] == 0
