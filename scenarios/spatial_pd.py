"""``spatial_pd``: the prisoner's dilemma on a board of neighbours (Nowak and May 1992).

Every step, every agent plays one round against each neighbour of the
network (and against itself when ``network.self_play`` is on, counted once),
and its payoff is the sum. The classic board is ``network.kind = "lattice"``
with ``degree = 8`` and ``self_play = true``; the weak dilemma of the paper is
``R = 1, T = b, S = P = 0`` (1 < b < 3), so ``T >= R > P >= S`` is allowed
here where ``ipd`` asks for strict inequalities.

Unlike ``ipd`` there is no trust and no pair table: the only memory is, per
directed link, what was played last step, which is what a spec that forbids
defecting first needs to see (``never_defects_first``). Combined with
``[evolution]`` (imitate-the-best, every step) this is Nowak and May's model.

Observation (per agent, about one neighbour): ``my_last``, ``partner_last``
(1 cooperated, 0 defected, -1 none, on this link last step).
Metric: ``cooperators``, the share of agents that cooperated in every game of
the step (Nowak and May's share of C cells when strategies are unconditional).
"""

from __future__ import annotations

import sys
from collections import namedtuple
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from agents.acts import Act, ActSpace
from agents.checks import check
from agents.kernel_loader import optional_module
from scenarios.environment import Environment, environment
from scenarios.metric_registry import Metric

if TYPE_CHECKING:
    from scenarios.stretch import Stretch

SpdObs = namedtuple("SpdObs", "my_last partner_last")
#: Boards of at most this many agents are laid out when the model is built (``SpatialPD.setup``).
SLOTS_AT_BUILD = 1 << 17


@dataclass(frozen=True)
class SpatialPdParams:
    R: float = 1.0
    S: float = 0.0
    T: float = 1.85
    P: float = 0.0

    def validate(self) -> str | None:
        if not (self.T >= self.R > self.P >= self.S):
            return f"payoffs must satisfy T >= R > P >= S, got T={self.T} R={self.R} P={self.P} S={self.S}"
        return None


@check("never_defects_first")
def never_defects_first(obs: Any, act: Act) -> bool | None:
    """Defect only against a partner whose last move to you was a defection."""
    if act.cooperative is None:
        return None
    return bool(act.cooperative) or getattr(obs, "partner_last", -1) == 0


@environment("spatial_pd")
class SpatialPD(Environment):
    Params = SpatialPdParams
    acts = ActSpace([Act("C", cooperative=True), Act("D", cooperative=False)])
    Obs = SpdObs
    cardinality = (3, 3)
    offset = (1, 1)
    pairwise: ClassVar[bool] = False
    checks: ClassVar[tuple[str, ...]] = ("cooperates", "never_defects_first")
    description = "Prisoner's dilemma with every neighbour each step (Nowak-May spatial game)."
    books_in_blocks = True  # the kernel's summarised stretches (``Stretch.one_block``)
    supplies = (
        Metric("cooperators", "cooperators", "share of agents cooperating with every neighbour",
               aggregate="last"),
    )

    def __init__(self, params: SpatialPdParams, model: Any) -> None:
        super().__init__(params, model)
        self._layout: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._slots: Any = None  # the fast-forward's games by position (scenarios.spatial_kernel)
        self._board: tuple[int, Any] | None = None  # (graph version, a built lattice's slots), made at build
        self._slot_nbr: np.ndarray | None = None  # and the imitation neighbours by position
        # Per-agent state the last stretch left by position, with what it put back in agent order.
        self._kept: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self._last = np.zeros(0, dtype=np.int8)
        self._last_version = -1  # the graph version ``_last`` is link memory of
        self._all_c = np.zeros(0, dtype=bool)
        self._scratch: tuple[tuple[Any, ...], Any] | None = None  # the loop's buffers (spatial_kernel._scratch)
        self._ready: tuple[Any, ...] | None = None  # the first stretch's start, made at build (spatial_kernel.prepare)
        self._coop = np.array([bool(a.cooperative) for a in self.acts])

    def setup(self, model: Any) -> None:
        """Lay a built lattice's games out by cell (``sim.lattice.Board.slots``) up to
        ``SLOTS_AT_BUILD`` agents: who plays whom is the board's, as the network is, and at
        those sizes laying it out is most of a short run's first step. Larger boards are laid
        out by the first stretch (their steps dominate; the arrays are held only when played)."""
        board = model.network.board()
        if board is not None and len(board.cells) <= SLOTS_AT_BUILD:
            self._board = (model.graph_version, board.slots())
            # A process that has played the kernel (a sweep's later runs, a bench's timed run)
            # also gathers the first stretch's state now; one that has not imports nothing here.
            kernel = sys.modules.get("scenarios.spatial_kernel")
            if kernel is not None:
                kernel.prepare(self, model)

    def layout(self, model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(agents, partners, mirror) of every game of a step, cached per graph version.

        Games are both directions of each link between two agents, then one game
        per self-loop; ``mirror[r]`` is the row of the partner's side of game ``r``
        (itself for a self-loop).
        """
        if self._layout is None or self._layout[0] != model.graph_version:
            e = model.edges
            loop = e[:, 0] == e[:, 1]
            pair, own = e[~loop], e[loop, 0]
            m = len(pair)
            agents = np.concatenate([pair[:, 0], pair[:, 1], own])
            partners = np.concatenate([pair[:, 1], pair[:, 0], own])
            mirror = np.concatenate([np.arange(m, 2 * m), np.arange(m), np.arange(2 * m, 2 * m + len(own))])
            self._layout = (model.graph_version, agents, partners, mirror)
            if self._last_version != model.graph_version:  # a new graph: no memory
                self._last = np.full(len(agents), -1, dtype=np.int8)
                self._last_version = model.graph_version
        return self._layout[1], self._layout[2], self._layout[3]

    def welfare_bounds(self, model: Any) -> tuple[float, float]:
        """Welfare of a step in which everyone defects, and the best a step's links can earn."""
        agents, partners, _ = self.layout(model)
        self_games = int((agents == partners).sum())
        return self.bounds_of((len(agents) - self_games) // 2, self_games)

    def bounds_of(self, links: int, self_games: int) -> tuple[float, float]:
        """``welfare_bounds`` of a step of ``links`` links and ``self_games`` games against oneself."""
        prm = self.params
        return (2 * prm.P * links + prm.P * self_games,
                max(2 * prm.R, prm.T + prm.S) * links + prm.R * self_games)

    def step(self, model: Any) -> None:
        prm = self.params
        agents, partners, mirror = self.layout(model)
        games = len(agents)
        self.bounds = self.welfare_bounds(model)
        if not games:
            self._all_c = np.zeros(len(model.payoff), dtype=bool)
            return
        codes = self.codec.encode(my_last=self._last, partner_last=self._last[mirror])
        coop = self._coop[model.decide(agents, codes, partners)]
        other = coop[mirror]
        pay = np.where(coop, np.where(other, prm.R, prm.S), np.where(other, prm.T, prm.P))
        model.add_payoff(agents, pay)
        self._last = coop.astype(np.int8)
        defected = np.bincount(agents, weights=~coop, minlength=len(model.payoff))
        played = np.bincount(agents, minlength=len(model.payoff)) > 0
        self._all_c = played & (defected == 0)

    def metrics(self, model: Any) -> dict[str, float]:
        alive = model.alive
        n = int(alive.sum())
        return {"cooperators": float(self._all_c[alive].sum() / n) if n and len(self._all_c) else float("nan")}

    def fast_forward(self, model: Any, limit: int) -> Stretch | None:
        """Stretches of play and imitation run in a numba loop (``scenarios.spatial_kernel``)."""
        spatial_kernel = optional_module("scenarios.spatial_kernel")  # no numba: every step generic
        return None if spatial_kernel is None else spatial_kernel.fast_forward(self, model, limit)

    def render(self, obs: Any) -> str:
        last = {1: "cooperated", 0: "defected", -1: "nothing yet"}
        return f"Last step this neighbour {last[obs.partner_last]} and you {last[obs.my_last]}."


def nowak_may_step(coop: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """One generation of Nowak and May's game on a torus, in plain numpy (the reference kernel).

    Every cell plays its eight neighbours and itself (R = 1, T = b, S = P = 0), then
    takes the strategy of the best earner of its 3 x 3 block, keeping its own on a tie.
    Other ties are broken in a fixed neighbour order, which differs from the engine's
    (neighbours by agent index) but cannot change a strategy unless b * m = k for
    small integers m <= 8, k <= 9 (a C and a D earning exactly the same).

    Args:
        coop: (side, side) bool board, True where the cell cooperates.
        b: the temptation T.

    Returns:
        The next board and this generation's payoffs.
    """
    c = coop.astype(np.float64)
    around = sum(np.roll(np.roll(c, dr, 0), dc, 1) for dr in (-1, 0, 1) for dc in (-1, 0, 1))
    pay = np.where(coop, around, b * around)  # ``around`` counts the cell itself: R for C, 0 for D
    best_pay = pay.copy()
    best = coop.copy()
    # Neighbours in increasing agent index of an unshuffled board: rows above, own row, rows below.
    for dr, dc in sorted(((dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)),
                         key=lambda o: (o[0], o[1])):
        p = np.roll(np.roll(pay, -dr, 0), -dc, 1)
        s = np.roll(np.roll(coop, -dr, 0), -dc, 1)
        better = p > best_pay
        best_pay = np.where(better, p, best_pay)
        best = np.where(better, s, best)
    return best, pay
