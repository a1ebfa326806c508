"""The network: who can meet whom, and how that changes (newcomers, departures, rewiring).

The graph is a networkx graph over agent indices, every generator seeded
from the model's generator. Environments read it as an (E, 2) array of
edges among living agents, cached per ``version``: any change to the graph
bumps the version, which also tells the pair table to lay its rows out again.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np

from agents.errors import ScenarioError
from agents.trust import PairTable
from sim.lattice import Board, board_of, graph_of, lattice_arrays

#: More steps than any run has (sim.scenario.MAX_STEPS is 1,000,000).
MAX_STEPS = 1 << 62
#: Tries a rewired agent makes to find a new partner it is not yet tied to.
REWIRE_TRIES = 8


def build_graph(net: dict[str, Any], n: int, rng: np.random.Generator) -> nx.Graph:
    """The scenario's network, every generator seeded from the model's generator."""
    g = build_network(net, n, rng)
    return g if isinstance(g, nx.Graph) else _graph_of_arrays(n, *g)


def _graph_of_arrays(n: int, edges: np.ndarray, cells: np.ndarray | None) -> nx.Graph:
    """The networkx graph of ``build_network``'s arrays: a lattice's, or a complete graph (no cells)."""
    return nx.complete_graph(n) if cells is None else graph_of(n, edges, cells)


def build_network(net: dict[str, Any], n: int,
                  rng: np.random.Generator) -> nx.Graph | tuple[np.ndarray, np.ndarray | None]:
    """``build_graph``, except that a lattice comes as arrays ``(edges with self-loops, cells)``
    and a complete graph without self-play as ``(edges, None)`` (a round robin needs no networkx
    graph: 7,140 edge tuples cost a 120-agent run ~10 ms)."""
    kind = net["kind"]
    seed = int(rng.integers(2**31 - 1))
    degree = int(net.get("degree", 4))
    if kind == "lattice":
        e, cells = lattice_arrays(n, degree, rng if net.get("shuffle") else None)
        if net.get("self_play"):
            e = np.concatenate([e, np.repeat(np.arange(n), 2).reshape(n, 2)])
        return e, cells
    if kind == "complete" and not net.get("self_play"):
        return pairs_above(n), None
    if kind == "complete":
        g = nx.complete_graph(n)
    elif kind == "none":
        g = nx.empty_graph(n)
    elif kind == "random_regular":
        g = nx.random_regular_graph(degree, n, seed=seed)
    elif kind == "watts_strogatz":
        g = nx.watts_strogatz_graph(n, degree, float(net.get("p", 0.1)), seed=seed)
    elif kind == "erdos_renyi":
        g = nx.gnp_random_graph(n, degree / max(n - 1, 1), seed=seed)
    elif kind == "barabasi_albert":
        g = nx.barabasi_albert_graph(n, max(1, degree // 2), seed=seed)
    elif kind == "edgelist":
        try:
            g = nx.read_edgelist(net["path"], nodetype=int)
        except (OSError, TypeError, ValueError) as e:
            raise ScenarioError(f"network.path: {net['path']}: not an edge list of agent indices ({e})") from None
        g.add_nodes_from(range(n))
        bad = [v for v in g.nodes if not 0 <= v < n]
        if bad:
            raise ScenarioError(f"network.path: node {bad[0]} is not an agent index 0..{n - 1}")
    else:  # validated by the scenario loader
        raise ScenarioError(f"network.kind: unknown kind {kind!r}")
    if net.get("self_play"):
        g.add_edges_from((i, i) for i in range(n))
    return g


#: Complete graphs of at most this many agents keep their pair array for later builds (a copy each),
#: and at most ``PAIRS_KEPT`` sizes are kept.
PAIRS_KEEP_N = 256
PAIRS_KEPT = 8
_PAIRS: dict[int, np.ndarray] = {}


def pairs_above(n: int) -> np.ndarray:
    """Every (i, j), i < j < n, sorted as ``Network.edges`` sorts: ``np.triu_indices(n, 1)``'s
    pairs (which built an n x n mask: half of a 12-agent model's network), a new array each call."""
    kept = _PAIRS.get(n)
    if kept is not None:
        return kept.copy()
    later = np.arange(n - 1, -1, -1, dtype=np.int64)  # partners after each agent
    i = np.repeat(np.arange(n, dtype=np.int64), later)
    # Within agent i's run of pairs, j counts up from i + 1.
    j = np.arange(len(i), dtype=np.int64) - np.repeat(np.cumsum(later) - later, later) + i + 1
    out = np.stack([i, j], axis=1)
    if n <= PAIRS_KEEP_N:
        if len(_PAIRS) >= PAIRS_KEPT:
            _PAIRS.clear()
        _PAIRS[n] = out.copy()
    return out


def _edge_array(graph: nx.Graph) -> np.ndarray:
    """Each undirected edge once as (u, v), u <= v, read from the adjacency dicts in C loops
    (no Python tuple per edge; the order does not matter, ``Network.edges`` sorts them)."""
    adj = graph._adj  # the raw dicts: the public view wraps each in a Python mapping object
    degree = np.fromiter(map(len, adj.values()), dtype=np.int64, count=len(adj))
    u = np.repeat(np.fromiter(adj, dtype=np.int64, count=len(adj)), degree)
    v = np.fromiter(itertools.chain.from_iterable(adj.values()), dtype=np.int64, count=int(degree.sum()))
    keep = u <= v
    return np.stack([u[keep], v[keep]], axis=1)


class Network:
    """The scenario's graph and the edges environments play over.

    Args:
        spec: the scenario's validated ``[network]`` table.
        n: agents at the start.
        rng: the generator the graph is built from.
        pairwise: whether the environment plays pairs (only then does rewiring apply).
    """

    def __init__(self, spec: dict[str, Any], n: int, rng: np.random.Generator, pairwise: bool) -> None:
        self.spec = spec
        self.n = n
        built = build_network(spec, n, rng)
        # A lattice or a complete graph stays arrays until something asks for the graph (joins, leaves, plots).
        self._graph: nx.Graph | None = built if isinstance(built, nx.Graph) else None
        self._arrays = None if isinstance(built, nx.Graph) else built
        #: The agent at each cell of a lattice (row-major), else None.
        self.cells: np.ndarray | None = None if self._arrays is None else self._arrays[1]
        self.version = 0
        self._rewire = spec.get("rewire") if pairwise else None
        #: After compiled rewiring (``sim.rewire_kernel``): the graph's node order and sorted edges,
        #: held instead of the networkx graph until something reads it.
        self._kept: tuple[list[int], np.ndarray] | None = None
        self._replaced: nx.Graph | None = None  # the graph the first compiled rewiring replaced
        self._edges: np.ndarray | None = None
        self._edge_agents: tuple[int, np.ndarray, np.ndarray] | None = None

    @property
    def graph(self) -> nx.Graph:
        """The networkx graph (a lattice's is built on first use)."""
        if self._graph is None and self._kept is not None:
            nodes, e = self._kept
            self._graph = nx.Graph()
            self._graph.add_nodes_from(nodes)
            self._graph.add_edges_from(e.tolist())
            self._kept = None
        if self._graph is None:
            assert self._arrays is not None
            self._graph = _graph_of_arrays(self.n, *self._arrays)
            self._arrays = None
        return self._graph

    def board(self) -> Board | None:
        """The lattice as built, while it is (no graph made of it, nothing joined, left or rewired);
        else None. A board of side below 3 folds neighbours onto one another: None too."""
        if self._arrays is None or self.cells is None or self.version:
            return None
        return board_of(self.cells, int(self.spec.get("degree", 4)), bool(self.spec.get("self_play")))

    def edges(self, alive: np.ndarray) -> np.ndarray:
        """Undirected edges among living agents, as an (E, 2) array (cached per version)."""
        if self._edges is None:
            if self._arrays is not None and self._arrays[1] is None:
                # A complete graph's ``pairs_above``: (u, v) rows, u < v, already in order.
                e = self._arrays[0]
                self._edges = e if alive.all() else e[alive[e[:, 0]] & alive[e[:, 1]]]
                return self._edges
            if self._kept is not None:
                e = self._kept[1]  # sorted, u <= v
                self._edges = e if alive.all() else e[alive[e[:, 0]] & alive[e[:, 1]]]
                return self._edges
            if self._arrays is not None:
                e = np.sort(self._arrays[0].astype(np.int64), axis=1)
            else:
                e = _edge_array(self.graph)  # u <= v already
            if len(e):
                # Rows in (u, v) order: one sort of u * stride + v, not a two-key lexsort.
                stride = int(e[:, 1].max()) + 1
                # Equal keys are equal rows, so an unstable sort gives the same array.
                e = e[np.argsort(e[:, 0] * stride + e[:, 1])]
                e = e[alive[e[:, 0]] & alive[e[:, 1]]]
            self._edges = e
        return self._edges

    def edge_agents(self, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(agents, partners) for both sides of every edge: [i; j] and [j; i] (cached)."""
        if self._edge_agents is None or self._edge_agents[0] != self.version:
            e = self.edges(alive)
            self._edge_agents = (self.version, np.concatenate([e[:, 0], e[:, 1]]),
                                 np.concatenate([e[:, 1], e[:, 0]]))
        return self._edge_agents[1], self._edge_agents[2]

    def changed(self) -> None:
        """The graph or who is alive changed: edges are read again."""
        self._edges = None
        self.version += 1

    # --- matching changes ------------------------------------------------------------------------
    def join(self, new: Sequence[int], living: list[int], rng: np.random.Generator) -> None:
        """Tie newcomers in: to everyone (complete), to no one (none), else to ``degree`` living agents."""
        degree = int(self.spec.get("degree", 4))
        kind = self.spec["kind"]
        for i in new:
            self.graph.add_node(i)
            if kind == "none":
                continue
            if kind == "complete":
                targets = living
            else:
                k = min(degree, len(living))
                targets = [int(x) for x in rng.choice(living, size=k, replace=False)] if k else []
            self.graph.add_edges_from((i, j) for j in targets)
            living.append(i)
        self.changed()

    @property
    def ties_newcomers(self) -> bool:
        """Whether ``join`` ties newcomers to anyone (and so reads the living agents)."""
        return self.spec["kind"] != "none"

    def leave(self, gone: Sequence[int]) -> None:
        """Cut every tie of the agents that left."""
        for i in gone:
            if i in self.graph:
                self.graph.remove_edges_from(list(self.graph.edges(i)))
        self.changed()

    @property
    def may_rewire(self) -> bool:
        """Whether rewiring can ever cut a tie (a threshold no trust is below never does)."""
        return bool(self._rewire) and float(self._rewire.get("below", 0.3)) > 0.0

    def steps_before_rewire(self, done: int) -> int:
        """How many steps after step ``done`` come before one at which rewiring may cut a tie."""
        if not self.may_rewire:
            return MAX_STEPS
        every = int(self._rewire.get("every", 1))  # type: ignore[union-attr]
        return every - 1 - done % every

    def rewire(self, step: int, pairs: PairTable, alive: np.ndarray, rng: np.random.Generator) -> int:
        """Every ``every`` steps, cut ties where either side's trust is below ``below``; returns the cuts.

        The side that distrusts looks for a new partner among living agents it is not tied to.
        """
        rw = self._rewire
        if not rw or step % int(rw.get("every", 1)):
            return 0
        below = float(rw.get("below", 0.3))
        e = self.edges(alive)
        if not len(e):
            return 0
        ra, rb = pairs.align(self.version, e[:, 0], e[:, 1])
        ta, tb = pairs.trust(ra), pairs.trust(rb)
        cut = np.flatnonzero((ta < below) | (tb < below))
        if not len(cut):
            return 0
        living = np.flatnonzero(alive)
        n_living = len(living)
        if "numba" in sys.modules and self._compiled_rewire(e, cut, ta[cut] < below, alive, living, rng):
            return len(cut)
        graph = self.graph
        # Python values, read once: the cuts are many per step and each numpy scalar read costs.
        cuts = zip(e[cut, 0].tolist(), e[cut, 1].tolist(), (ta[cut] < below).tolist(), strict=True)
        if type(graph) is nx.Graph:
            _rewire_dicts(graph, cuts, living, rng)
        else:
            for i, j, lo in cuts:
                who = i if lo else j
                graph.remove_edge(i, j)
                for _ in range(REWIRE_TRIES):
                    c = int(living[rng.integers(n_living)])
                    if c != who and not graph.has_edge(who, c):
                        graph.add_edge(who, c)
                        break
        self.changed()
        return len(cut)

    def _compiled_rewire(self, e: np.ndarray, cut: np.ndarray, lo: np.ndarray, alive: np.ndarray,
                         living: np.ndarray, rng: np.random.Generator) -> bool:
        """``rewire``'s loop on an edge array, when a kernel run has loaded numba anyway (its
        import alone would cost a stepped run more than it saves); False: not this graph."""
        plain = self._kept is not None or (self._arrays is None and type(self._graph) is nx.Graph)
        if not plain or not alive.all():
            return False  # a lattice keeps its cells on the graph; the dead may hold edges
        from sim.rewire_kernel import rewire_keys

        if self._kept is None:
            assert self._graph is not None
            nodes = list(self._graph)
        else:
            nodes = self._kept[0]
        edges, _ = rewire_keys(e, cut, lo, living, REWIRE_TRIES, rng)
        # The graph replaced is freed with the network, not here: freeing 10^4 nodes' dicts
        # costs ~3.5 ms, a set-up structure's cost rather than play's.
        if self._replaced is None:
            self._replaced = self._graph
        self._kept, self._graph = (nodes, edges), None
        self.changed()
        return True


def _rewire_dicts(graph: nx.Graph, cuts: Any, living: np.ndarray, rng: np.random.Generator) -> int:
    """``Network.rewire``'s loop on a plain graph's adjacency dicts; returns the partners drawn.

    The same graph and the same generator state as ``remove_edge``, one ``rng.integers`` per
    try and ``add_edge`` would leave (a tenth of the time at thousands of cuts): the partners
    are drawn in blocks, which is the same stream as one draw at a time, and the generator is
    then set back to just after the draws used. The dict operations are networkx's own.
    """
    adj = graph._adj  # the raw dicts (as ``_edge_array`` reads them)
    start = rng.bit_generator.state
    n = len(living)
    block = 64
    picks: list[int] = []
    used = 0
    for i, j, lo in cuts:
        who = i if lo else j
        del adj[i][j]
        if i != j:
            del adj[j][i]
        mine = adj[who]
        for _ in range(REWIRE_TRIES):
            if used == len(picks):
                picks += living[rng.integers(n, size=block)].tolist()
                block *= 2
            c = picks[used]
            used += 1
            if c != who and c not in mine:
                data: dict[str, Any] = {}  # one attribute dict shared by both directions, as add_edge makes
                mine[c] = data
                adj[c][who] = data
                break
    rng.bit_generator.state = start
    if used:
        rng.integers(n, size=used)
    nx._clear_cache(graph)
    return used


def trust_graph(pairs: PairTable, alive: np.ndarray, groups: Sequence[str], payoff: np.ndarray) -> nx.DiGraph:
    """Who trusts whom among living agents: edge (i, j) carries i's trust in j (pairs that played);
    nodes carry their group's name and payoff."""
    g = nx.DiGraph()
    for i in range(len(payoff)):
        if alive[i]:
            g.add_node(i, group=groups[i], payoff=float(payoff[i]))
    if len(pairs):
        a, b = pairs.pairs()
        tr = pairs.all_trust()
        played = pairs["turns"] > 0
        for i, j, t in zip(a[played].tolist(), b[played].tolist(), tr[played].tolist(), strict=True):
            if alive[i] and alive[j]:
                g.add_edge(i, j, trust=t)
    return g
