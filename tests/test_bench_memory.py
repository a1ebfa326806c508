"""The sweep-memory row's slope is fitted on the samples taken while runs stream into the store."""

from __future__ import annotations

import pytest

from bench.harness import Unavailable
from bench.sweep_memory import slope_mb_per_1000


def test_the_returned_frame_is_not_a_slope() -> None:
    """Flat while streaming, then the frame ``sweep`` returns: the slope is the flat part's."""
    streaming = [(n, 130.0 + 0.0001 * n) for n in range(0, 10_000, 250)]
    end = [(10_000, 175.0), (10_000, 180.0)]
    assert slope_mb_per_1000(streaming + end, 2_000, 10_000) == pytest.approx(0.1)
    assert slope_mb_per_1000(streaming + end, 2_000) > 1.0  # fitted with them: the old swing


def test_growth_while_streaming_is_reported() -> None:
    leaking = [(n, 130.0 + 0.003 * n) for n in range(0, 10_000, 250)]
    assert slope_mb_per_1000(leaking, 2_000, 10_000) == pytest.approx(3.0)


def test_too_few_samples() -> None:
    with pytest.raises(Unavailable):
        slope_mb_per_1000([(2_500, 130.0), (10_000, 170.0)], 2_000, 10_000)
