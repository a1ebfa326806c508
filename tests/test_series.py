"""sim.series.Series: columns kept as arrays read as the lists plain bookings give."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.metrics import extend_series
from sim.series import MIN_BLOCK, Series


def _book(series, rng: np.random.Generator) -> None:
    """A mix of stretches and single steps, a column joining late, int and float columns."""
    t = 0
    for k in (1, 40, 1, 1, MIN_BLOCK, 3, 200, 1):
        cols = {"welfare": rng.normal(size=k), "alive": np.full(k, 12.0),
                "ints": rng.integers(0, 9, k).astype(np.int32)}
        if t >= 40:
            cols["late"] = rng.normal(size=k)
        extend_series(series, cols, t, k)
        t += k


def test_series_reads_as_the_plain_lists() -> None:
    plain: dict[str, list[float]] = {}
    lazy = Series()
    _book(plain, np.random.default_rng(3))
    _book(lazy, np.random.default_rng(3))
    assert list(lazy) == list(plain)
    frame = pd.DataFrame(lazy.arrays())
    pd.testing.assert_frame_equal(frame, pd.DataFrame(plain))
    for name, col in plain.items():
        got = lazy[name]
        assert type(got) is list and [type(v) for v in got] == [type(v) for v in col]
        assert np.array_equal(np.array(got), np.array(col), equal_nan=True), name


def test_a_read_column_keeps_growing_as_a_list() -> None:
    s = Series()
    s["x"] = []
    s.extend("x", np.arange(MIN_BLOCK, dtype=float))
    assert s["x"] == list(map(float, range(MIN_BLOCK)))
    s.extend("x", np.arange(MIN_BLOCK, dtype=float))
    s.extend("x", np.array([7.0]))
    assert len(s["x"]) == 2 * MIN_BLOCK + 1 and s["x"][-1] == 7.0
    assert "x" in s and "y" not in s and len(s) == 1
