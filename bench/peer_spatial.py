"""Nowak and May's spatial game as a numpy kernel: the speed limit for ``spatial-pd``.

A board of cells, each cooperating or defecting, on a torus. Every generation
every cell plays its eight neighbours and itself (R = 1, T = b, S = P = 0) and
then takes the strategy of the best earner of its 3 x 3 block, its own on a tie.
A cell's payoff is the number of cooperators in its block, times b when it
defects; the block sums are two passes of shifted adds (rows, then columns) on a
padded board, and the best earner is a running maximum over the eight shifts.
"""

from __future__ import annotations

import numpy as np

#: The eight neighbours in the order ties between them are broken (rows above first).
OFFSETS = tuple((dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0))


def _block_sum(x: np.ndarray) -> np.ndarray:
    """Sum over each cell's 3 x 3 block on a torus."""
    rows = x + np.roll(x, 1, 0) + np.roll(x, -1, 0)
    return rows + np.roll(rows, 1, 1) + np.roll(rows, -1, 1)


def play_spatial(coop: np.ndarray, b: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Play ``steps`` generations from the bool board ``coop``.

    Returns:
        The final board and the share of cooperators after each generation.
    """
    board = np.asarray(coop, dtype=bool).copy()
    shares = np.empty(steps)
    for t in range(steps):
        c = board.astype(np.float64)
        around = _block_sum(c)
        pay = np.where(board, around, b * around)
        best_pay, best = pay, board
        for dr, dc in OFFSETS:
            p = np.roll(pay, (-dr, -dc), (0, 1))
            better = p > best_pay
            if better.any():
                best_pay = np.where(better, p, best_pay)
                best = np.where(better, np.roll(board, (-dr, -dc), (0, 1)), best)
        board = best
        shares[t] = board.mean()
    return board, shares
