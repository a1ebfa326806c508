"""sim.series.Series: columns kept as arrays read as the lists plain bookings give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def _started(k: int) -> tuple[Series, dict[str, list[float]]]:
    """A series started from one block (``start_block``) and the plain lists it stands for."""
    rng = np.random.default_rng(k)
    block = rng.normal(size=(3, k))
    block[1, 0] = np.nan
    names = ["a", "b", "c"]
    s = Series()
    s.start_block(names, block)
    return s, {name: row.tolist() for name, row in zip(names, block, strict=True)}


def test_a_started_block_reads_as_its_rows() -> None:
    # Kept as it came until wanted: names, order and size are there before any column is made.
    for k in (1, MIN_BLOCK - 1, MIN_BLOCK, 40):
        s, plain = _started(k)
        assert s._pending is not None
        assert list(s) == ["a", "b", "c"] and len(s) == 3 and "b" in s and "z" not in s
        assert np.array_equal(np.array(s["b"]), np.array(plain["b"]), equal_nan=True)
        assert s._pending is None
        s, plain = _started(k)
        frame = pd.DataFrame(s.arrays())
        pd.testing.assert_frame_equal(frame, pd.DataFrame(plain))


def test_a_started_block_takes_later_bookings() -> None:
    # Every way a later booking writes settles the block first: the same lists as plain dicts give.
    for k in (3, 40):
        s, plain = _started(k)
        s.extend_rows({"a": np.ones(5), "c": np.zeros(5)}, 5)
        for name in plain:
            plain[name] += [1.0] * 5 if name == "a" else [0.0] * 5 if name == "c" else [float("nan")] * 5
        assert list(s) == list(plain)
        for name, col in plain.items():
            assert np.array_equal(np.array(s[name]), np.array(col), equal_nan=True), name
        s, plain = _started(k)
        s["d"] = [1.0] * k
        del s["a"]
        assert list(s) == ["b", "c", "d"]
        assert np.array_equal(np.array(s["c"]), np.array(plain["c"]))
        s, plain = _started(k)
        s.extend("a", np.arange(2.0))
        s.extend_all({"b": np.arange(2.0)}, 2)
        assert s["a"][k:k + 2] == [0.0, 1.0] and np.isnan(s["a"][k + 2:]).all()  # NaN where absent
        assert np.array_equal(np.array(s["a"][:k]), np.array(plain["a"]))
        assert len(s["c"]) == k + 2 and s["b"][-2:] == [0.0, 1.0]


def test_start_block_wants_an_empty_series_and_a_name_per_row() -> None:
    s, _ = _started(4)
    with pytest.raises(ValueError, match="already has columns"):
        s.start_block(["x"], np.zeros((1, 4)))
    with pytest.raises(ValueError, match="a name per row"):
        Series().start_block(["x"], np.zeros((2, 4)))


def test_later_blocks_wait_with_the_first() -> None:
    # A block booked while the first is pending (``add_block``) waits with it: names join at once,
    # in order, and the columns read as the plain lists (NaN before a new name's first step).
    for k, later in ((3, (5, MIN_BLOCK + 4)), (40, (2, 30)), (MIN_BLOCK, (MIN_BLOCK,))):
        s, plain = _started(k)
        eager, _ = _started(k)
        eager._settle()
        steps = k
        rng = np.random.default_rng(k)
        for j, m in enumerate(later):
            names = ["a", "c", f"new{j}", "b"] if j % 2 == 0 else [f"new{j}", "c"]
            block = rng.normal(size=(len(names), m))
            s.add_block(names, block, steps)
            eager.add_block(names, block, steps)
            for name in names:
                if name not in plain:
                    plain[name] = [float("nan")] * steps
            for name in plain:
                row = dict(zip(names, block, strict=True)).get(name)
                plain[name] += [float("nan")] * m if row is None else row.tolist()
            steps += m
        assert s._pending is not None and eager._pending is None
        assert list(s) == list(plain) == list(eager) and len(s) == len(plain) and "new0" in s
        pd.testing.assert_frame_equal(pd.DataFrame(s.arrays()), pd.DataFrame(plain))
        for name, col in plain.items():
            assert np.array_equal(np.array(eager[name]), np.array(col), equal_nan=True), name
        s2, _ = _started(k)
        s2.add_block(["x", "a"], np.ones((2, 4)), k)
        assert s2["x"][k:] == [1.0] * 4 and np.isnan(s2["x"][:k]).all() and s2["a"][k:] == [1.0] * 4
