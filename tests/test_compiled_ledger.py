"""The compiled ``Beliefs.learn`` and the sorted-key helpers make numpy's arrays exactly."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from agents.trust import PairTable
from scenarios.mailbox import Beliefs

pytest.importorskip("numba")


def _numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "numba")


def _learn_all(batches: list[tuple[Any, ...]], compiled: bool, monkeypatch: pytest.MonkeyPatch) -> Beliefs:
    b = Beliefs()
    taken = []
    compiled_pass = b._learn_compiled

    def counted(*args: Any) -> bool:
        taken.append(compiled_pass(*args))
        return taken[-1]

    with monkeypatch.context() as m:
        m.setattr(b, "_learn_compiled", counted)
        if not compiled:
            _numpy_path(m)
        for batch in batches:
            b.learn(*batch)
    # The two sides must be the two paths: else the comparison compares a path with itself.
    assert any(taken) if compiled else not taken
    return b


@pytest.mark.parametrize("seed", range(6))
def test_learn_same_arrays(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import numba  # noqa: F401  (loaded: the compiled path is taken)

    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(4):
        m = int(rng.integers(0, 60))
        # Few ids: keys repeat within a batch and across batches.
        batches.append((rng.integers(0, 8, m), rng.integers(-1, 5, m), rng.integers(0, 3, m), rng.random(m),
                        rng.random(m) < 0.5 if rng.random() < 0.7 else None))
    a = _learn_all(batches, True, monkeypatch)
    b = _learn_all(batches, False, monkeypatch)
    for name in ("_keys", "_slot", "_cred", "_true"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


def test_learn_bad_id_says_so() -> None:
    import numba  # noqa: F401

    b = Beliefs()
    b.learn(np.array([1, 2]), np.array([0, 1]), np.array([0, 0]), np.array([0.2, 0.7]))
    before = [a.copy() for a in (b._keys, b._slot, b._cred, b._true)]
    bad = (np.array([-1]), np.array([0]), np.array([0]), np.array([0.5]))
    # The compiled pass declines an id outside its key layout and changes nothing...
    assert b._learn_compiled(*bad, None) is False
    for was, now in zip(before, (b._keys, b._slot, b._cred, b._true), strict=True):
        np.testing.assert_array_equal(was, now)
    # ...so numpy's path is the one that says what is wrong.
    with pytest.raises(ValueError, match="agent ids"):
        b.learn(*bad)


@pytest.mark.parametrize("seed", range(6))
def test_distinct_is_unique_with_index_and_inverse(seed: int) -> None:
    """``distinct`` (runs merged by ``sort_runs``, however many)
    gives ``np.unique``'s keys, first positions and inverse: a few ascending runs with ties
    within and across them, and keys in no order at all."""
    from agents.pair_runs import distinct, sort_runs

    rng = np.random.default_rng(seed)
    runs = [np.sort(rng.integers(0, 40, int(rng.integers(0, 30)))) for _ in range(int(rng.integers(1, 7)))]
    for q in (np.concatenate(runs).astype(np.int64), rng.integers(0, 40, 200), np.zeros(0, np.int64)):
        uniq, head, inv = distinct(q)
        want = np.unique(q, return_index=True, return_inverse=True)
        for got, expect in zip((uniq, head, inv), want, strict=True):
            np.testing.assert_array_equal(got, expect)
        np.testing.assert_array_equal(sort_runs(q), np.argsort(q, kind="stable"))


def test_reserve_changes_no_row() -> None:
    """Room reserved in the columns' buffers: rows, columns and version as without it, and the
    rows added later written into the reserved buffers, not copies."""
    plain, roomy = PairTable(64), PairTable(64)
    for t in (plain, roomy):
        t.index(np.array([1, 2, 3]), np.array([4, 5, 6]))
        t.cols["kept"][:] = [1.0, 2.0, 3.0]
    # More rows than a fresh table's 16-row buffers hold: without the reserve they are copied.
    roomy.reserve(40)
    before = roomy.cols["kept"].base
    for t in (plain, roomy):
        t.index(np.r_[7, 1, np.arange(10, 30)], np.r_[0, 4, np.arange(30, 50)])
    for c in plain.cols:
        np.testing.assert_array_equal(plain.cols[c], roomy.cols[c])
    assert roomy.cols["kept"].base is before
    assert plain.version == roomy.version and np.array_equal(plain.keys, roomy.keys)


@pytest.mark.parametrize("seed", range(6))
def test_by_receiver_is_distinct(seed: int) -> None:
    """``by_receiver`` (rows bucketed by receiver, the key's top part) gives ``distinct``'s keys
    and inverse: rows heard a step at a time with ties and receivers repeated, and in no order."""
    from agents.pair_runs import distinct
    from scenarios.beliefs_kernel import by_receiver

    rng = np.random.default_rng(seed)
    steps = [np.sort(rng.integers(0, 30, int(rng.integers(0, 40)))) for _ in range(int(rng.integers(1, 9)))]
    for r in (np.concatenate(steps).astype(np.int64), rng.integers(0, 30, 300), np.zeros(0, np.int64)):
        q = (r * 64 + rng.integers(0, 4, len(r))) * 8 + rng.integers(0, 3, len(r))
        uniq, inv = by_receiver(q, r, int(r.max()) if len(r) else -1)
        want, _, want_inv = distinct(q)
        np.testing.assert_array_equal(uniq, want)
        np.testing.assert_array_equal(inv, want_inv)
        assert len(uniq) < len(q) or not len(q)  # ties: keys repeat


def test_learn_with_receivers_far_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large receiver ids among few rows take ``distinct`` instead (no array per receiver): the
    same arrays as numpy's path."""
    import numba  # noqa: F401

    r = np.array([5_000_000, 3, 5_000_000, 9_000_000, 3])
    batches = [(r, np.array([0, 1, 0, -1, 1]), np.array([0, 1, 0, 2, 1]), np.arange(5) / 5, None),
               (r[::-1].copy(), np.array([2, 1, 0, -1, 0]), np.zeros(5, np.int64), np.arange(5) / 7, r > 4)]
    a = _learn_all(batches, True, monkeypatch)
    b = _learn_all(batches, False, monkeypatch)
    for name in ("_keys", "_slot", "_cred", "_true"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
