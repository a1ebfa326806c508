"""First and last decision per key (``agents.policies.keyed``) agree with ``np.unique``."""

from __future__ import annotations

import numpy as np
import pytest

from agents.policies.keyed import by_key, lookup


@pytest.mark.parametrize(("n", "high"), [(0, 5), (1, 5), (7, 3), (500, 40), (500, 2**61)])  # last: no folding
def test_by_key_matches_unique(n: int, high: int) -> None:
    keys = np.random.default_rng(n).integers(0, high, n)
    uniq, first = np.unique(keys, return_index=True)
    got, where = by_key(keys)
    assert got.tolist() == uniq.tolist() and where.tolist() == first.tolist()
    uniq, rev = np.unique(keys[::-1], return_index=True)
    got, where = by_key(keys, last=True)
    assert got.tolist() == uniq.tolist() and where.tolist() == (n - 1 - rev).tolist()


@pytest.mark.parametrize(("want", "expected"), [([3, 4, 9, 0], [30, -1, 90, -1]), ([], [])])
def test_lookup_finds_or_says_missing(want: list[int], expected: list[int]) -> None:
    got = lookup(np.array([1, 3, 9]), np.array([10, 30, 90]), np.array(want, dtype=np.int64))
    assert got.tolist() == expected
