"""Helpers of environments where agents play in pairs over the network's edges.

The pair table (``agents.trust.PairTable``) aligned on a step's edges holds
rows (i, j) for every edge, then (j, i): these read observations from it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from agents.policies import TRUST_BUCKETS


@lru_cache(maxsize=8)
def swapped_rows(e: int) -> np.ndarray:
    """Row of (j, i) for each row of an aligned pair table: the two halves swapped (cached, read-only)."""
    rows = np.concatenate([np.arange(e, 2 * e), np.arange(e)])
    rows.flags.writeable = False
    return rows


def trust_buckets(trust: np.ndarray) -> np.ndarray:
    """Trust in [0, 1] as the bucket policies observe (0..TRUST_BUCKETS)."""
    return np.floor(trust * TRUST_BUCKETS + 1e-9).astype(np.int64)


def observe_pairs(model: Any, codec: Any, rows_self: Any, rows_other: Any,
                  coin: np.ndarray | int = 0) -> np.ndarray:
    """Observation codes of pairwise games from the pair table (shared by pairwise environments)."""
    p = model.pairs
    return codec.encode(
        my_last=p["last"][rows_self], partner_last=p["last"][rows_other],
        partner_last2=p["last2"][rows_other], partner_defected=p["defected"][rows_other],
        my_last_payoff_good=p["good"][rows_self], parity=p["turns"][rows_self] % 2,
        trust=trust_buckets(p.trust(rows_self)), coin=coin,
    )


def needs_coin(model: Any) -> bool:
    """Whether some group's policy is stochastic (reads the ``coin`` field)."""
    return any(getattr(gs.policy, "stochastic", False) for gs in model.groups)


#: No dense table: every key counts as missing (its cells come from ``cells_of``).
_NO_LUT = np.zeros(0, np.int32)


def dense_cells(table: Any) -> np.ndarray:
    """The decision table's dense look-up for a compiled pass (entries cell + 1, 0 missing), or
    an empty one where the table has none: the pass then reports every key missing."""
    lut = table.dense(0)
    return _NO_LUT if lut is None else lut


def cells_of(model: Any, agent: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each step's decision-table cells for (K, 2E) ``codes`` (the chain of command): step by
    step, so keys never seen get their cells in the order stepping meets them."""
    dec = model.decider_of[0][agent]
    return np.stack([model.decisions.cells(0, dec, row) for row in codes])
