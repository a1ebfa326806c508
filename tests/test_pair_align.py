"""The compiled realignment of the pair table (``agents.pair_align``) against numpy's ``align``."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from agents.trust import PairTable

pytest.importorskip("numba")


def _table(rng: np.random.Generator, n: int, rows: int) -> PairTable:
    """A table with ``rows`` random pairs of ``n`` agents and random column values, laid out
    once (so its rows are permuted), with one pair added the one-at-a-time way."""
    pt = PairTable(stride=n)
    i, j = rng.integers(n, size=(2, rows))
    keep = i != j
    pt.index(i[keep], j[keep])
    c = pt.cols
    for name in ("last", "last2"):
        c[name][:] = rng.integers(-1, 2, size=len(pt))
    for name in ("defected", "good"):
        c[name][:] = rng.integers(0, 2, size=len(pt))
    c["turns"][:] = rng.integers(0, 9, size=len(pt))
    c["kept"][:] = rng.integers(0, 5, size=len(pt)) * 0.5
    c["broken"][:] = rng.random(len(pt))
    pt._one(int(n - 1) * n + 0)  # merged by the next align
    return pt


def _edges(rng: np.random.Generator, n: int, e: int) -> np.ndarray:
    """``e`` distinct undirected edges (u < v) in key order, as ``Network.edges`` gives them."""
    u, v = rng.integers(n, size=(2, 4 * e))
    ok = u != v
    lo, hi = np.minimum(u, v)[ok], np.maximum(u, v)[ok]
    keys = np.unique(lo * n + hi)[:e]
    return np.stack([keys // n, keys % n], axis=1)


def _align(pt: PairTable, edges: np.ndarray, compiled: bool) -> None:
    mods = sys.modules
    saved = mods.pop("numba") if not compiled else None
    try:
        pt.align(7, edges[:, 0], edges[:, 1])
    finally:
        if saved is not None:
            mods["numba"] = saved


@pytest.mark.parametrize("seed", range(6))
def test_compiled_align_equals_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    rows = int(rng.integers(1, 4 * n))
    state = rng.bit_generator.state
    tables = []
    for _ in range(2):
        rng.bit_generator.state = state
        tables.append(_table(rng, n, rows))
    edges = _edges(rng, n, int(rng.integers(1, 2 * n)))
    _align(tables[0], edges, compiled=False)
    _align(tables[1], edges, compiled=True)
    want, got = tables
    np.testing.assert_array_equal(got.keys, want.keys)
    np.testing.assert_array_equal(got.rowof, want.rowof)
    for c, arr in want.cols.items():
        assert got.cols[c].dtype == arr.dtype, c
        np.testing.assert_array_equal(got.cols[c], arr, err_msg=c)
    assert got.version == want.version and got.moved == want.moved
    cached = got._pairs
    got._pairs = None
    for a, b, c in zip(got.pairs(), want.pairs(), cached[1:] if cached else (), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(c, b)
    # A table already holding every pair: nothing added, the version kept.
    before = got.version
    _align(got, edges[::-1].copy(), compiled=True)
    assert got.version == before
    sl = got.align(8, edges[::-1, 0], edges[::-1, 1])
    i, j = got.pairs()
    np.testing.assert_array_equal(i[sl[0]], edges[::-1, 0])
    np.testing.assert_array_equal(j[sl[1]], edges[::-1, 0])


def test_a_pair_asked_twice_goes_to_numpy() -> None:
    pt = PairTable(stride=10)
    pt.index(np.array([1, 2]), np.array([2, 3]))
    pt.align(1, np.array([4, 4]), np.array([4, 4]))  # a self-pair: (4, 4) asked for twice
    assert len(pt.cols["turns"]) >= 4


def _rewired(rng: np.random.Generator, n: int, edges: np.ndarray) -> np.ndarray:
    """The keys (u * n + v) of ``edges`` with some cut and some new ones made, sorted and
    distinct, as a rewiring leaves them."""
    keep = edges[rng.random(len(edges)) > 0.3]
    made = _edges(rng, n, max(1, len(edges) // 3))
    return np.unique(np.concatenate([keep[:, 0] * n + keep[:, 1], made[:, 0] * n + made[:, 1]]))


@pytest.mark.parametrize(("seed", "stride"), [(0, 1 << 31), (1, 256), (2, 512), (3, 1 << 31), (4, 1 << 10)])
def test_fused_align_over_rewirings_equals_numpy(seed: int, stride: int) -> None:
    # A power-of-two stride takes the one-call path (``pair_align._fused``): a table aligned again
    # and again on rewired edges (so its second half is found beside the first, from the pairs
    # the last alignment left), with pairs made the one-at-a-time way in between; every keys,
    # rows, columns, version and pairs as numpy's ``align`` leaves them, each time.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 200))
    tables = [PairTable(stride=stride), PairTable(stride=stride)]
    edges = _edges(rng, n, int(rng.integers(5, 3 * n)))
    for rnd in range(6):
        for pt, compiled in zip(tables, (False, True), strict=True):
            _align(pt, edges, compiled)
        want, got = tables
        np.testing.assert_array_equal(got.keys, want.keys)
        np.testing.assert_array_equal(got.rowof, want.rowof)
        for c, arr in want.cols.items():
            assert got.cols[c].dtype == arr.dtype, c
            np.testing.assert_array_equal(got.cols[c], arr, err_msg=c)
        assert got.version == want.version and got.moved == want.moved
        for a, b in zip(got.pairs(), want.pairs(), strict=True):
            np.testing.assert_array_equal(a, b)
        # Play on the aligned rows (the same values in both), then rewire.
        e = len(edges)
        for pt in tables:
            c = pt.cols
            c["turns"][: 2 * e] += 1
            c["kept"][:e] += rnd + 0.5
            c["broken"][e: 2 * e] += 1.0
            c["last"][: 2 * e] = rnd % 2
            c["defected"][e: 2 * e] = 1
        if rnd == 3:
            for pt in tables:
                pt._one(int(edges[0, 1]) * stride + int(edges[0, 0]) + 0)  # an existing pair: no row
                pt._one((n + 1) * stride + 2)  # a new pair, one direction, merged by the next align
        keys = _rewired(rng, n, edges)
        edges = np.stack([keys // n, keys % n], axis=1)


def test_fused_realign_finds_mirrors_from_the_pairs_given() -> None:
    # A mirror row is taken only where the pairs given say it holds the mirrored pair: a ``half``
    # from another layout (or none) costs searches, never a wrong row.
    from agents.pair_align import realign

    rng = np.random.default_rng(9)
    n, stride = 60, 64
    pt = PairTable(stride=stride)
    edges = _edges(rng, n, 80)
    pt.align(1, edges[:, 0], edges[:, 1])
    i = np.concatenate([edges[:, 0], edges[:, 1]])
    j = np.concatenate([edges[:, 1], edges[:, 0]])
    pi, pj = pt.pairs()
    for qi, qj in ((i, j), (i[::-1].copy(), j[::-1].copy())):
        want = realign(pt.keys, pt.rowof, pt.cols, stride, qi, qj)
        for half in (80, 7, 79, 81, 0):
            got = realign(pt.keys, pt.rowof, pt.cols, stride, qi, qj, (pi, pj), half)
            assert want is not None and got is not None
            for a, b in zip(got[:2] + got[4:], want[:2] + want[4:], strict=True):
                np.testing.assert_array_equal(a, b)
            for c in want[2]:
                np.testing.assert_array_equal(got[2][c], want[2][c])
