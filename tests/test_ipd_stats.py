"""The IPD kernel's trust metrics: numpy's own rounding, so a stretch reports what stepping would."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.ipd_kernel import pairwise_sum


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 127, 128, 129, 135, 136, 255, 256, 257, 1000, 8192,
                               8193, 14280, 65537])
def test_pairwise_sum_rounds_as_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.random(n) * 10.0 ** rng.integers(-6, 6, n)
    assert pairwise_sum(a, 0, n) == a.sum()
    rows = np.ascontiguousarray(np.tile(a, (2, 1)))
    assert pairwise_sum(rows[1], 0, n) == rows.sum(axis=1)[1]


def test_pairwise_sum_of_a_slice() -> None:
    a = np.random.default_rng(1).random(3000)
    assert pairwise_sum(a, 500, 2000) == a[500:2500].sum()
