"""sim.lattice.lattice_edges against a set built cell by cell."""

from __future__ import annotations

import numpy as np
import pytest

from sim.lattice import NEIGHBOURHOODS, lattice_edges


def _by_hand(side: int, degree: int) -> list[tuple[int, int]]:
    pairs = set()
    for r in range(side):
        for c in range(side):
            i = r * side + c
            for dr, dc in NEIGHBOURHOODS[degree]:
                j = ((r + dr) % side) * side + (c + dc) % side
                if i != j:
                    pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


@pytest.mark.parametrize("degree", sorted(NEIGHBOURHOODS))
@pytest.mark.parametrize("side", [1, 2, 3, 4, 7, 12])
def test_edges_are_each_torus_pair_once_in_order(side: int, degree: int) -> None:
    edges = lattice_edges(side, degree)
    assert edges.dtype == np.int64 and edges.shape[1] == 2
    assert [tuple(e) for e in edges.tolist()] == _by_hand(side, degree)
