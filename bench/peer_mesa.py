"""The trust-network game as a plain, idiomatic Mesa 3.5 model (no specs).

This is the model a Mesa user would write by hand: a ``mesa.Model`` seeded
with ``rng=``, one ``FixedAgent`` per node of a ``mesa.discrete_space.Network``,
and a two-phase step (every agent decides, then every agent settles) driven by
``AgentSet.do``. It is the baseline specbound must beat while doing more (every
specbound decision also goes through a spec and a chain of command).

The graph is an input, not generated here: the peers must play on exactly the
graph specbound played on, whatever generator and seed produced it.
"""

from __future__ import annotations

import mesa
import networkx as nx
import numpy as np
from mesa.discrete_space import FixedAgent, Network

from bench.game import PAYOFF, RECIPROCAL, GameOutcome, check_inputs, trusts

#: PAYOFF as nested Python tuples: indexing a numpy array per move would make
#: this baseline slower than a Mesa user's own code, and the comparison unfair.
PAYOFF_TABLE: tuple[tuple[int, int], ...] = tuple(tuple(int(x) for x in row) for row in PAYOFF)


class Player(FixedAgent):
    """One node: Beta counts about each neighbour, its moves, its payoff."""

    def __init__(self, model: TrustGameModel, reciprocal: bool) -> None:
        super().__init__(model)
        self.reciprocal = reciprocal
        self.neighbours: list[Player] = []
        self.kept: dict[Player, int] = {}
        self.broken: dict[Player, int] = {}
        self.moves: dict[Player, bool] = {}
        self.payoff = 0

    def meet_neighbours(self) -> None:
        """Cache the neighbours once: the network does not change in this game."""
        self.neighbours = list(self.cell.neighborhood.agents)
        self.kept = dict.fromkeys(self.neighbours, 0)
        self.broken = dict.fromkeys(self.neighbours, 0)

    def decide(self) -> None:
        """Choose a move towards every neighbour from start-of-step trust."""
        self.moves = {
            other: self.reciprocal and trusts(self.kept[other], self.broken[other])
            for other in self.neighbours
        }

    def settle(self) -> None:
        """Collect this step's payoffs and count what each neighbour did."""
        for other in self.neighbours:
            mine, theirs = self.moves[other], other.moves[self]
            self.payoff += PAYOFF_TABLE[mine][theirs]
            if theirs:
                self.kept[other] += 1
            else:
                self.broken[other] += 1
            self.model.cooperations += mine


class TrustGameModel(mesa.Model):
    """The trust-network game on a fixed graph.

    Args:
        edges: (m, 2) undirected edges between agents 0..n-1.
        groups: (n,) group codes (``bench.game.RECIPROCAL`` / ``OPPORTUNIST``).
        seed: seed for ``rng=``; the game is deterministic, the seed only
            fixes the order ``AgentSet.do`` visits agents in.
    """

    def __init__(self, edges: np.ndarray, groups: np.ndarray, seed: int = 0) -> None:
        super().__init__(rng=seed)
        e, g = check_inputs(edges, groups, 0)
        graph = nx.Graph()
        graph.add_nodes_from(range(len(g)))
        graph.add_edges_from(map(tuple, e.tolist()))
        # layout=None: Mesa's default spring layout is quadratic in the node count.
        self.grid = Network(graph, random=self.random, layout=None)
        self.cooperations = 0
        self.players = [Player(self, bool(code == RECIPROCAL)) for code in g.tolist()]
        for node, player in enumerate(self.players):
            player.cell = self.grid[node]
        self.agents.do("meet_neighbours")

    def step(self) -> None:
        """Decide everywhere first, then settle: decisions see start-of-step trust."""
        self.agents.do("decide")
        self.agents.do("settle")


def play_mesa(edges: np.ndarray, groups: np.ndarray, steps: int, seed: int = 0) -> GameOutcome:
    """Play the bench game with the plain Mesa model.

    Args:
        edges: (m, 2) undirected edges between agents 0..n-1.
        groups: (n,) group codes.
        steps: steps to play.
        seed: the model's ``rng`` seed (does not change the outcome).

    Returns:
        Per-agent payoffs and the number of cooperative moves.
    """
    check_inputs(edges, groups, steps)
    model = TrustGameModel(edges, groups, seed)
    for _ in range(steps):
        model.step()
    payoffs = np.array([p.payoff for p in model.players], dtype=np.int64)
    return GameOutcome(payoffs=payoffs, cooperations=model.cooperations)


def run_mesa(edges: np.ndarray, groups: np.ndarray, steps: int) -> np.ndarray:
    """Per-agent payoffs of the plain Mesa model (see ``play_mesa``)."""
    return play_mesa(edges, groups, steps).payoffs
