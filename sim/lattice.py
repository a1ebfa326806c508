"""Square lattices with periodic edges (a torus), the board of spatial games.

Nowak and May (1992) play the prisoner's dilemma on such a board, each cell
with its eight nearest cells (the Moore neighbourhood); the four orthogonal
ones (von Neumann) are the other classic choice. Agent ``r * side + c`` sits
in row ``r``, column ``c`` unless the placement is shuffled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

#: Offsets of the neighbours of a cell, by neighbourhood size.
NEIGHBOURHOODS: dict[int, tuple[tuple[int, int], ...]] = {
    4: ((0, 1), (1, 0), (0, -1), (-1, 0)),
    8: ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)),
}


#: Per neighbourhood, the index of each offset's opposite (the way back from the neighbour).
OPPOSITE: dict[int, tuple[int, ...]] = {
    k: tuple(offs.index((-dr, -dc)) for dr, dc in offs) for k, offs in NEIGHBOURHOODS.items()
}
#: Boards whose neighbour cells are kept per process (by side and neighbourhood), at most.
NEIGHBOURS_KEPT = 8
_NEIGHBOURS: dict[tuple[int, int], np.ndarray] = {}


@dataclass(frozen=True, eq=False)
class Board:
    """A lattice as it was built: its shape, whether every agent also plays itself,
    ``cells[c]``, the agent at cell c (row-major), ``neighbours`` (``neighbour_cells``) and
    ``opposite[d]``, the offset that leads back from offset d. Enough to lay its games out
    by arithmetic."""

    side: int
    degree: int
    self_play: bool
    cells: np.ndarray
    neighbours: np.ndarray
    opposite: np.ndarray


def lattice_side(n: int) -> int | None:
    """The side of a square lattice of ``n`` cells, or None when ``n`` is not a square."""
    side = math.isqrt(n)
    return side if side * side == n else None


def lattice_edges(side: int, degree: int = 8) -> np.ndarray:
    """Undirected edges (i < j, each once) of a ``side`` x ``side`` torus."""
    r, c = np.divmod(np.arange(side * side), side)
    parts = []
    for dr, dc in NEIGHBOURHOODS[degree]:
        j = ((r + dr) % side) * side + (c + dc) % side
        parts.append(np.stack([np.arange(side * side), j], axis=1))
    e = np.sort(np.concatenate(parts), axis=1)
    e = e[e[:, 0] != e[:, 1]]  # a side below 3 folds neighbours onto the cell itself
    return np.unique(e, axis=0)


def neighbour_cells(side: int, degree: int) -> np.ndarray:
    """``(side * side, degree)``: the cell of each neighbour of each cell, in ``NEIGHBOURHOODS``' order.

    It depends on the board's shape only (never on who sits where), so it is kept per process,
    read-only: every run of a sweep on one board shares it.
    """
    key = (side, degree)
    got = _NEIGHBOURS.get(key)
    if got is None:
        r, c = np.divmod(np.arange(side * side, dtype=np.int64), side)
        got = np.stack([((r + dr) % side) * side + (c + dc) % side for dr, dc in NEIGHBOURHOODS[degree]], axis=1)
        got.setflags(write=False)
        if len(_NEIGHBOURS) >= NEIGHBOURS_KEPT:
            _NEIGHBOURS.clear()
        _NEIGHBOURS[key] = got
    return got


def board_of(cells: np.ndarray, degree: int, self_play: bool) -> Board | None:
    """The ``Board`` of a built lattice (``cells`` as ``lattice_arrays`` placed them); None
    below a side of 3, where neighbours fold onto one another."""
    side = lattice_side(len(cells))
    if side is None or side < 3:
        return None
    return Board(side, degree, self_play, cells, neighbour_cells(side, degree),
                 np.array(OPPOSITE[degree], np.int64))


def lattice_arrays(n: int, degree: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(edges, cells)`` of a torus of ``n`` cells (a square number): undirected edges between
    agents, and ``cells[c]``, the agent at cell c (row-major); with ``rng``, agents are placed at
    random cells. Arrays, not a graph: a networkx torus of a million cells takes ~1.5 GB."""
    side = lattice_side(n)
    if side is None:
        raise ValueError(f"a lattice needs a square number of agents, got {n}")
    e = lattice_edges(side, degree)
    cells = rng.permutation(n) if rng is not None else np.arange(n)
    return cells[e], cells


def lattice_graph(n: int, degree: int, rng: np.random.Generator | None = None) -> nx.Graph:
    """A torus of ``n`` cells (a square number); with ``rng``, agents are placed at random cells."""
    e, cells = lattice_arrays(n, degree, rng)
    return graph_of(n, e, cells)


def graph_of(n: int, edges: np.ndarray, cells: np.ndarray) -> nx.Graph:
    """The networkx graph of a lattice's arrays (``graph.graph["cells"]`` keeps the placement)."""
    g = nx.Graph(cells=cells)  # cells[c]: the agent at cell c (row-major)
    g.add_nodes_from(range(n))
    g.add_edges_from(edges.tolist())
    return g
