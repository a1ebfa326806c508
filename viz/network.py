"""The trust network of a live model, drawn on a layout computed once.

A force layout costs seconds at 1,000 nodes (networkx's spring layout takes
about 15 s there on these machines), far too slow to recompute per step, and
a layout that moves each step would hide what changed. So positions are
computed once per population (a newcomer recomputes them) and kept with the
model's chart: a force layout for small networks, a circle in agent order for large
ones (a Watts-Strogatz ring then shows as the ring it is, and groups, which
own consecutive ids, as arcs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize, to_rgba
from matplotlib.figure import Figure

from viz.live import LiveModel

#: Networks up to this many nodes get a force layout; larger ones a circle.
FORCE_LAYOUT_MAX = 150
#: Edges drawn at most (a complete network of 1,000 has 499,500): an even sample beyond.
MAX_EDGES = 6000
#: Colour of an edge whose two ends have not met yet (no trust to show).
UNMET = "#cccccc"
COLOR_BY = ("group", "spec")


@dataclass(frozen=True)
class Layout:
    """Node positions, row ``i`` for agent ``i``."""

    positions: np.ndarray

    @property
    def size(self) -> int:
        return len(self.positions)


def compute_layout(graph: nx.Graph, n: int, seed: int = 0) -> Layout:
    """Positions of agents ``0..n-1`` (pure: the same graph and seed give the same layout)."""
    if n <= FORCE_LAYOUT_MAX and graph.number_of_edges():
        pos = nx.spring_layout(graph, seed=seed)
        return Layout(np.array([pos.get(i, (0.0, 0.0)) for i in range(n)], dtype=float))
    angle = 2.0 * np.pi * np.arange(n) / max(n, 1)
    return Layout(np.column_stack([np.cos(angle), np.sin(angle)]))


def edge_trust(model: LiveModel) -> tuple[np.ndarray, np.ndarray]:
    """Edges among living agents and the mean trust of their two ends (NaN: never met).

    Reads the pair table without adding rows (its look-ups create rows, which
    would change the model).
    """
    edges = model.edges
    trust = np.full(len(edges), np.nan)
    pairs = model.pairs
    if not len(edges) or not len(pairs):
        return edges, trust
    a, b = pairs.pairs()
    met = pairs["turns"] > 0
    a, b, t = a[met], b[met], pairs.all_trust()[met]
    n = np.int64(len(model.payoff))
    key = np.minimum(a, b) * n + np.maximum(a, b)
    keys, inverse = np.unique(key, return_inverse=True)
    mean = np.bincount(inverse, weights=t) / np.bincount(inverse)
    want = edges[:, 0].astype(np.int64) * n + edges[:, 1]
    pos = np.searchsorted(keys, want)
    ok = pos < len(keys)
    ok[ok] = keys[pos[ok]] == want[ok]
    trust[ok] = mean[pos[ok]]
    return edges, trust


class NetworkChart:
    """One live model's network figure, kept across steps.

    The layout is computed on first draw and again only when agents join;
    edges are re-laid when the graph changes (rewiring) and recoloured every
    step; nodes are redrawn when the colouring or the living population changes.
    """

    def __init__(self, model: LiveModel) -> None:
        self.model = model
        self.layout: Layout | None = None
        self.figure = Figure(figsize=(4.6, 4.6), dpi=64)
        self.ax = self.figure.add_axes((0.0, 0.0, 1.0, 0.93))
        self.ax.set_axis_off()
        self.ax.set_xlim(-1.08, 1.08)
        self.ax.set_ylim(-1.08, 1.08)
        self.ax.set_aspect("equal")
        self.edges = LineCollection([], linewidths=0.6, zorder=1)
        self.ax.add_collection(self.edges)
        self._edges_of: tuple[int, int] | None = None  # (graph version, layout size) drawn
        self._nodes_of: tuple[str, int, int] | None = None  # (colouring, living, layout size)
        self._nodes: list[Any] = []

    def draw(self, color_by: str = "group") -> Figure:
        """The figure as the model is now (the same figure object every time)."""
        if color_by not in COLOR_BY:
            raise ValueError(f"color_by {color_by!r}; allowed: {', '.join(COLOR_BY)}")
        model = self.model
        n = len(model.payoff)
        if self.layout is None or self.layout.size != n:
            self.layout = compute_layout(model.network.graph, n, seed=0)
        self._draw_edges(self.layout)
        key = (color_by, int(model.alive.sum()), self.layout.size)
        if key != self._nodes_of:
            self._draw_nodes(self.layout, color_by)
            self._nodes_of = key
        return self.figure

    def _draw_edges(self, layout: Layout) -> None:
        edges, trust = edge_trust(self.model)
        if len(edges) > MAX_EDGES:
            keep = np.linspace(0, len(edges) - 1, MAX_EDGES).astype(np.int64)
            self.ax.set_title(f"{MAX_EDGES:,} of {len(edges):,} edges shown", fontsize=7,
                              loc="right")
            edges, trust = edges[keep], trust[keep]
        drawn = (self.model.graph_version, layout.size)
        if drawn != self._edges_of:
            self.edges.set_segments(layout.positions[edges] if len(edges) else [])
            self.edges.set_linewidths(0.6 if len(edges) > 1000 else 1.0)
            self._edges_of = drawn
        colors = np.tile(to_rgba(UNMET), (len(edges), 1))
        known = ~np.isnan(trust)
        colors[known] = colormaps["RdYlGn"](Normalize(0.0, 1.0)(trust[known]))
        self.edges.set_color(colors)

    def _draw_nodes(self, layout: Layout, color_by: str) -> None:
        model = self.model
        for artist in self._nodes:
            artist.remove()
        alive = np.flatnonzero(model.alive)
        names = ([gs.name for gs in model.groups] if color_by == "group"
                 else [gs.spec.id for gs in model.groups])
        labels = sorted(set(names), key=names.index)
        palette = colormaps["tab10"]
        size = 14 if len(alive) > 300 else 40
        self._nodes = []
        for k, label in enumerate(labels):
            groups = [g for g, name in enumerate(names) if name == label]
            members = alive[np.isin(model.group_of[alive], groups)]
            self._nodes.append(self.ax.scatter(
                layout.positions[members, 0], layout.positions[members, 1], s=size,
                color=palette(k % 10), label=label, zorder=2, linewidths=0))
        self.ax.legend(loc="upper left", bbox_to_anchor=(0.0, 1.08), ncol=min(len(labels), 4),
                       fontsize=8, frameon=False)


def network_figure(model: LiveModel, color_by: str = "group") -> Figure:
    """Agents coloured by group or spec, edges by trust (red low, green high, grey unmet)."""
    return NetworkChart(model).draw(color_by)
