"""numpy's pairwise sum taken leaf by leaf (scenarios/pairwise_tree.py) rounds as numpy's."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from scenarios import pairwise_tree
from scenarios.kernel_sums import BLOCK

SIZES = [0, 1, 7, 8, 9, 127, 128, 129, 136, 255, 256, 257, 1000, 4097, 100_003]


def _spread(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values over twelve orders of magnitude: any other order of adding rounds differently."""
    return rng.random(n) * 10.0 ** rng.integers(-3, 9, n)


@pytest.mark.parametrize("n", SIZES)
def test_leaves_cover_the_values_and_close_every_pair(n: int) -> None:
    size, close = pairwise_tree.leaves(n)
    assert size.sum() == n
    assert (size <= BLOCK).all()
    assert close.sum() == len(size) - 1  # a binary tree: one closing per inner node


@pytest.mark.parametrize("n", SIZES)
def test_two_sums_through_codes_round_as_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    a, b = _spread(rng, 37), _spread(rng, 37)
    code = rng.integers(0, 37, n).astype(np.int32)
    got = pairwise_tree.total2_at(a, b, code, *pairwise_tree.leaves(n))
    assert got == (a[code].sum(), b[code].sum())


def test_a_plain_left_to_right_sum_would_differ() -> None:
    """The test above can fail: adding in turn rounds otherwise on these values."""
    rng = np.random.default_rng(4097)
    a = _spread(rng, 37)
    code = rng.integers(0, 37, 100_003)
    plain = 0.0
    for c in code.tolist():
        plain += a[c]
    assert plain != a[code].sum()


def _profiles(rng: np.random.Generator, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float, int]:
    """Members per profile of ``value`` (some held by no agent any more), the order sorting the
    values, their total, numpy's sum of the running shares, and the agents."""
    n_profiles = len(value)
    members = rng.integers(1, 3000, n_profiles)
    members[rng.random(n_profiles) < 0.2] = 0  # profiles no agent holds any more
    members[0] = max(members[0], 1)
    order = np.argsort(value)
    sorted_values = np.repeat(value[order], members[order])
    tot = sorted_values.sum()
    return members, order, tot, (np.cumsum(sorted_values) / tot).sum(), int(members.sum())


@pytest.mark.parametrize("n_profiles", [1, 2, 5, 40])
@pytest.mark.parametrize("seed", [0, 1])
def test_running_shares_total_as_numpy(n_profiles: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    value = rng.random(n_profiles) * 10.0 ** rng.integers(0, 6, n_profiles)
    members, order, tot, want, n = _profiles(rng, value)
    got = pairwise_tree.shares_total(value, order, members, tot, *pairwise_tree.leaves(n), np.empty(BLOCK))
    assert got == want


@pytest.mark.parametrize("n_profiles", [1, 2, 5, 40])
@pytest.mark.parametrize("seed", [0, 1])
def test_integer_running_shares_total_as_numpy(n_profiles: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    value = rng.integers(0, 10 ** rng.integers(1, 9, n_profiles)).astype(float)
    members, order, tot, want, n = _profiles(rng, value)
    got = pairwise_tree.integer_shares_total(value, order, members, tot, *pairwise_tree.leaves(n), np.empty(BLOCK))
    assert got == want
    assert got == pairwise_tree.shares_total(value, order, members, tot, *pairwise_tree.leaves(n), np.empty(BLOCK))
