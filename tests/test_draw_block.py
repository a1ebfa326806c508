"""``scenarios.draw_block``: a raw block gives numpy's own draws and leaves the generator as numpy does."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.draw_block import _fill, per_step

#: (steps, doubles a step, integers a step, bound): odd and even counts, no doubles, no integers,
#: bounds with and without rejections.
SHAPES = [(5, 2933, 858, 10), (3, 0, 1000, 16), (4, 7, 5, 10), (2, 0, 3, 7), (3, 5, 0, 10), (1, 1, 1, 2**32 - 1),
          (6, 3, 9, 1000003), (0, 4, 4, 10)]


def _numpy(rng: np.random.Generator, k: int, doubles: int, ints: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    u, v = np.empty((k, doubles)), np.empty((k, ints), np.int64)
    for s in range(k):
        rng.random(out=u[s])
        v[s] = rng.integers(0, high, ints)
    return u, v


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("before", [0, 1, 4])
def test_same_draws_and_state(shape: tuple[int, int, int, int], before: int) -> None:
    for seed in range(6):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        a.integers(0, 10, before)  # an odd count leaves half an output kept in the generator
        b.integers(0, 10, before)
        want = _numpy(a, *shape)
        got = per_step(b, *shape, state=b.bit_generator.state if seed % 2 else None)
        assert got is not None
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
        assert got[0].shape == want[0].shape and got[1].dtype == np.int64
        assert a.bit_generator.state == b.bit_generator.state
        assert np.array_equal(a.integers(0, 10, 3), b.integers(0, 10, 3)) and a.random() == b.random()


def test_redraw_puts_the_generator_back() -> None:
    """A bound that rejects about half its draws: the block would shift, so nothing is drawn."""
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    assert per_step(rng, 2, 3, 50, 2**31 + 1) is None
    assert rng.bit_generator.state == before


def test_fill_reports_a_redraw() -> None:
    raw = np.zeros(4, np.uint64)  # a zero half times any bound has low bits 0 < threshold 6
    u, v = np.empty((1, 1)), np.empty((1, 2), np.int64)
    assert not _fill(raw, np.int64(0), np.uint64(0), np.uint64(10), u, v)[0]


def test_other_generators_and_bounds_left_to_numpy() -> None:
    assert per_step(np.random.Generator(np.random.MT19937(1)), 2, 1, 1, 10) is None
    assert per_step(np.random.default_rng(1), 2, 1, 1, 1) is None
    assert per_step(np.random.default_rng(1), 2, 1, 1, 2**32) is None
