"""Partners' moves towards learners' decisions, joined through a hash table (``sim.learning``,
``agents.hashing``).

Why: belief learners learn from each partner's move towards them in the step. numpy joins the
step's booked moves to the decisions by sorting the (agent, partner) keys and searching each
decision's reverse key: at 10^4 agents a third of what fictitious play costs beyond fixed
policies. A table of open addressing does it in one pass over the moves and one over the
decisions.

Same answer as the sort: under each key the move booked last among those that are not -1;
-1 for a key with none. Moves are cooperative (1) or not (0), keys below 2^62.
"""

from __future__ import annotations

import numpy as np

from agents.hashing import shift_of, slot, table_bits
from agents.jit import OUTER, njit

__all__ = ["last_moves", "moves_towards", "table_bits"]


@njit(**OUTER)
def last_moves(keys: np.ndarray, moves: np.ndarray, bits: int) -> np.ndarray:  # pragma: no cover - compiled
    """A table of each key's last move that is not -1: slots ``key * 2 + move``, -1 empty
    (one array: a probe reads one cache line). ``keys`` are non-negative, moves -1, 0 or 1."""
    mask = (1 << bits) - 1
    shift = np.uint64(64 - bits)
    slots = np.full(1 << bits, -1, np.int64)
    for i in range(keys.shape[0]):
        move = np.int64(moves[i])
        if move < 0:
            continue
        key = keys[i]
        h = slot(key, shift)
        while slots[h] != -1 and slots[h] >> 1 != key:
            h = (h + 1) & mask
        slots[h] = key * 2 + move  # a later move under the key replaces an earlier one
    return slots


@njit(**OUTER)
def moves_towards(slots: np.ndarray, agents: np.ndarray, partners: np.ndarray,
                  stride: int) -> np.ndarray:  # pragma: no cover - compiled
    """Per decision, the move its partner made towards its agent (key ``partner * stride + agent``)."""
    mask = slots.shape[0] - 1
    shift = shift_of(slots.shape[0])
    out = np.full(agents.shape[0], -1, np.int64)
    for i in range(agents.shape[0]):
        key = np.int64(partners[i]) * stride + agents[i]
        h = slot(key, shift)
        while slots[h] != -1:
            if slots[h] >> 1 == key:
                out[i] = slots[h] & 1
                break
            h = (h + 1) & mask
    return out
