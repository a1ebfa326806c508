"""agents.uniques: sort-based distinct values, first and last per key, return what np.unique returns."""

from __future__ import annotations

import numpy as np
import pytest

from agents.uniques import by_key, lookup, unique, unique_inverse

CASES = {
    "empty": np.zeros(0, dtype=np.int64),
    "one": np.array([7]),
    "repeats": np.array([3, 1, 3, 3, 0, 1]),
    "pair keys": np.array([2 * (1 << 31) + 1, 1 * (1 << 31) + 2, 2 * (1 << 31) + 1, 5]),
    "negative": np.array([-1, 4, -1, -9]),
    "random": np.random.default_rng(0).integers(0, 40, 500),
}


@pytest.mark.parametrize("a", CASES.values(), ids=CASES.keys())
def test_same_as_numpy(a: np.ndarray) -> None:
    assert np.array_equal(unique(a), np.unique(a))
    got, want = unique_inverse(a), np.unique(a, return_inverse=True)
    assert all(np.array_equal(x, y) for x, y in zip(got, want, strict=True))
    if not len(a) or a.min() >= 0:  # by_key takes the non-negative keys this project makes
        got, want = by_key(a), np.unique(a, return_index=True)
        assert all(np.array_equal(x, y) for x, y in zip(got, want, strict=True))


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
