"""agents.uniques: sort-based distinct values return exactly what np.unique returns."""

from __future__ import annotations

import numpy as np
import pytest

from agents.uniques import unique, unique_first, unique_inverse

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
    got, want = unique_first(a), np.unique(a, return_index=True)
    assert all(np.array_equal(x, y) for x, y in zip(got, want, strict=True))
