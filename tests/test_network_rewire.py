"""Rewiring on the adjacency dicts (``sim.network._rewire_dicts``) against networkx's own calls.

The same graph (adjacency order included) and the same generator state as one
``remove_edge``, one ``rng.integers`` per try and ``add_edge`` leave, also when
tries fail (a dense graph, few agents alive) and when more partners are drawn
than one block holds.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from sim.network import REWIRE_TRIES, _rewire_dicts


def _by_networkx(graph: nx.Graph, cuts: list[tuple[int, int, bool]], living: np.ndarray,
                 rng: np.random.Generator) -> None:
    for i, j, lo in cuts:
        who = i if lo else j
        graph.remove_edge(i, j)
        for _ in range(REWIRE_TRIES):
            c = int(living[rng.integers(len(living))])
            if c != who and not graph.has_edge(who, c):
                graph.add_edge(who, c)
                break


@pytest.mark.parametrize(("n", "p", "share", "seed"), [
    (60, 0.1, 0.5, 0), (30, 0.8, 0.9, 1), (300, 0.03, 1.0, 2), (12, 0.95, 1.0, 3),
])
def test_rewiring_on_dicts_equals_networkx(n: int, p: float, share: float, seed: int) -> None:
    g = nx.gnp_random_graph(n, p, seed=seed)
    rng = np.random.default_rng(seed)
    edges = list(g.edges())
    picked = rng.random(len(edges)) < share
    cuts = [(i, j, bool(lo)) for (i, j), on, lo in zip(edges, picked, rng.random(len(edges)) < 0.5, strict=True)
            if on]
    living = np.flatnonzero(rng.random(n) < 0.8)
    a, b = g.copy(), g.copy()
    ra, rb = np.random.default_rng(seed + 10), np.random.default_rng(seed + 10)
    _by_networkx(a, cuts, living, ra)
    drawn = _rewire_dicts(b, iter(cuts), living, rb)
    assert drawn >= len(cuts)
    assert [(u, list(nb)) for u, nb in a.adj.items()] == [(u, list(nb)) for u, nb in b.adj.items()]
    assert ra.bit_generator.state == rb.bit_generator.state
    assert ra.random() == rb.random()


@pytest.mark.parametrize(("n", "p", "share", "seed"), [
    (60, 0.1, 0.5, 0), (30, 0.8, 0.9, 1), (300, 0.03, 1.0, 2), (12, 0.95, 1.0, 3), (400, 0.02, 0.3, 4),
])
def test_rewiring_on_an_edge_array_equals_networkx(n: int, p: float, share: float, seed: int) -> None:
    """The compiled loop (``sim.rewire_kernel``): the same edges and generator state; a dense
    graph makes tries fail and so needs more partners than the first block holds."""
    pytest.importorskip("numba")
    from sim.rewire_kernel import rewire_keys

    g = nx.gnp_random_graph(n, p, seed=seed)
    g.add_edge(3, 3)  # a self-play tie: one key, cut like any other
    rng = np.random.default_rng(seed)
    edges = np.array(sorted(g.edges()), dtype=np.int64)
    cut = np.flatnonzero(rng.random(len(edges)) < share)
    lo = rng.random(len(cut)) < 0.5
    living = np.flatnonzero(rng.random(n) < 0.8)
    ra, rb = np.random.default_rng(seed + 10), np.random.default_rng(seed + 10)
    _by_networkx(g, [(int(edges[c, 0]), int(edges[c, 1]), bool(x)) for c, x in zip(cut, lo, strict=True)],
                 living, ra)
    after, used = rewire_keys(edges, cut, lo, living, REWIRE_TRIES, rb)
    assert used >= len(cut)
    assert after.tolist() == sorted([min(u, v), max(u, v)] for u, v in g.edges())
    assert ra.bit_generator.state == rb.bit_generator.state


@pytest.mark.parametrize("keys", [
    np.random.default_rng(0).integers(0, 1 << 20, 1500),      # pair keys: a few significant bytes
    np.random.default_rng(1).integers(0, 1 << 62, 999),       # every byte differs
    np.repeat(np.random.default_rng(2).integers(0, 50, 40), 7),  # repeats
    np.array([7, 7, 7]), np.array([3]), np.zeros(0, np.int64),
])
def test_radix_sort_is_numpys_sort(keys: np.ndarray) -> None:
    from agents.pair_align import radix_sort

    got = keys.astype(np.int64)
    radix_sort(got.view(np.uint64), np.empty(len(got), np.uint64), np.zeros(256, np.int64))
    assert np.array_equal(got, np.sort(keys))
