"""Square lattices with periodic edges (a torus), the board of spatial games.

Nowak and May (1992) play the prisoner's dilemma on such a board, each cell
with its eight nearest cells (the Moore neighbourhood); the four orthogonal
ones (von Neumann) are the other classic choice. Agent ``r * side + c`` sits
in row ``r``, column ``c`` unless the placement is shuffled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import networkx as nx
import numpy as np

from agents.uniques import unique

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

    def slots(self) -> Slots:
        """Every game of a step by cell, as ``Slots``, by arithmetic on the cells (no sort).

        The games of the agent ``a`` at cell p are, in order, its rows of the games a
        pairwise environment lays out from the sorted edges (both directions of each link,
        then self-play): a link (a, b), b > a, is row ``first[a] + (b's rank among a's
        partners above a)`` and its mirror (b, a) row ``links + `` the same, where ``first[a]``
        counts the partners above each agent before a. So a's games are its partners above
        it in increasing index, then those below, then itself. Ranks within a cell come from
        comparisons, ``degree`` columns at a time (numpy sorts rows of eight ~1 us each).
        """
        k, w = self.degree, self.degree + int(self.self_play)
        n = len(self.cells)
        # Index arrays in int32 where they fit: half the memory traffic of every pass below.
        idx = np.int32 if n * w < 2**31 else np.int64
        nb = self.neighbours.astype(idx)  # (degree, n): offset-major, so each pass reads whole rows
        order = np.asarray(self.cells, idx)
        cell = np.arange(n, dtype=idx)
        pos = np.empty(n, idx)
        pos[order] = cell
        mate = order[nb]  # the partners' agent indices, by offset
        above = mate > order
        key = np.where(above, mate, mate + n)  # partners above first, each part in increasing index
        local = np.empty((k, n), idx)  # per (offset, cell): the game's place among the cell's
        rank = np.empty((k, n), idx)   # per (offset, cell): the partner's rank by index
        for j in range(k):
            np.sum(key < key[j], axis=0, out=local[j])
            np.sum(mate < mate[j], axis=0, out=rank[j])
        offs = np.repeat(np.arange(k, dtype=idx), n).reshape(k, n)
        by_slot = np.empty(k * n, idx)  # per (place, cell): the offset
        by_slot[local * n + cell] = offs
        nbr = np.empty(k * n, idx)
        nbr[rank * n + cell] = nb
        by_slot = by_slot.reshape(k, n)
        partner = nb.ravel()[by_slot * n + cell]
        back = local.ravel()[self.opposite[by_slot] * n + partner]  # the partner's place of the same game
        n_above = above.sum(axis=0)
        first = np.zeros(n + 1, np.int64)
        np.cumsum(n_above[pos], out=first[1:])
        links = n * k // 2
        row = np.where(offs < n_above, first[order] + offs, links + first[order[partner]] + back)
        mirror = partner * w + back
        if self.self_play:
            row = np.concatenate([row, (2 * links + order.astype(np.int64))[None, :]])
            partner = np.concatenate([partner, cell[None, :]])
            mirror = np.concatenate([mirror, (cell * w + k)[None, :]])
        row = row.T.ravel()  # by cell, then place
        slot = np.empty(len(row), idx)
        slot[row] = np.arange(len(row), dtype=idx)
        order64 = order.astype(np.int64)
        return Slots(order64, np.arange(n + 1, dtype=np.int64) * w, row, mirror.T.ravel(),
                     np.repeat(order64, w), partner.T.ravel(), pos, slot,
                     n if self.self_play else 0, np.ascontiguousarray(nbr.reshape(k, n).T))


class Slots(NamedTuple):
    """A lattice's games by cell: the agent at cell p (``order[p]``) plays slots
    ``start[p]:start[p + 1]``; per slot its game row (``Board.slots``), the slot of the other
    side of the game, the agent and the partner's cell; per agent its cell; per row its slot;
    the games against oneself; and per cell its neighbours' cells in increasing agent index
    (as ``sim.evolution.neighbour_table`` lists them). Index arrays are int32 where they fit."""

    order: np.ndarray
    start: np.ndarray
    row: np.ndarray
    mirror: np.ndarray
    agent: np.ndarray
    partner: np.ndarray
    pos: np.ndarray
    slot: np.ndarray
    self_games: int
    nbr: np.ndarray


def lattice_side(n: int) -> int | None:
    """The side of a square lattice of ``n`` cells, or None when ``n`` is not a square."""
    side = math.isqrt(n)
    return side if side * side == n else None


def lattice_edges(side: int, degree: int = 8) -> np.ndarray:
    """Undirected edges (i < j, each once) of a ``side`` x ``side`` torus."""
    n = side * side
    cell = np.arange(n)
    r, c = np.divmod(cell, side)
    codes = []
    for dr, dc in NEIGHBOURHOODS[degree]:
        j = ((r + dr) % side) * side + (c + dc) % side
        lo, hi = np.minimum(cell, j), np.maximum(cell, j)
        keep = lo != hi  # a side below 3 folds neighbours onto the cell itself
        codes.append(lo[keep] * n + hi[keep])
    # One int64 code per pair, in (i, j) order, made distinct by sorting (agents.uniques):
    # np.unique over rows, or numpy's hashing unique over codes, took tens of seconds at a
    # million cells.
    return np.stack(np.divmod(unique(np.concatenate(codes)), n), axis=1)


def neighbour_cells(side: int, degree: int) -> np.ndarray:
    """``(degree, side * side)``: the cell of each cell's neighbour at each offset of
    ``NEIGHBOURHOODS`` (offset-major: whole rows for ``Board.slots``' passes).

    It depends on the board's shape only (never on who sits where), so it is kept per process,
    read-only: every run of a sweep on one board shares it.
    """
    key = (side, degree)
    got = _NEIGHBOURS.get(key)
    if got is None:
        r, c = np.divmod(np.arange(side * side, dtype=np.int64), side)
        got = np.stack([((r + dr) % side) * side + (c + dc) % side for dr, dc in NEIGHBOURHOODS[degree]])
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
