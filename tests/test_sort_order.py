"""kernel_sums.sort_order is numpy's stable argsort (a stable order is unique: ties included)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from scenarios.kernel_sums import SORT_RUN, sort_order

SIZES = [0, 1, 2, SORT_RUN - 1, SORT_RUN, SORT_RUN + 1, 2 * SORT_RUN + 1, 100, 1000, 4097]


def _values(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "spread":
        return rng.random(n)
    x = rng.integers(0, 5, n).astype(float)  # many ties: their order is what a stable sort fixes
    if kind == "nan" and n > 3:
        x[::3] = np.nan  # numpy sorts NaN last
        x[1] = -0.0  # equal to 0.0: a tie
    return x


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", ["spread", "ties", "nan"])
def test_sort_order_is_numpys_stable_argsort(n: int, kind: str) -> None:
    x = _values(kind, n, np.random.default_rng(n))
    order = np.full(n, -1, np.int64)
    sort_order(x, order, n)
    assert np.array_equal(order, np.argsort(x, kind="stable"))


def test_sort_order_sorts_only_the_first_n() -> None:
    x = np.array([3.0, 1.0, 2.0, 0.0])
    order = np.full(4, 7, np.int64)
    sort_order(x, order, 3)
    assert order.tolist() == [1, 2, 0, 7]
