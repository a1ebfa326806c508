"""Injection's codes and kinds of order, apart from the environment.

The compiled stretch (``scenarios.injection_kernel``) reads them as the environment does; kept
here, the kernel need not import the environment module that loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.acts import Act, ActSpace
from scenarios.mailbox import Beliefs

NONE, MESSAGE, DATA, INVOICE, OVERREACH, RELAY = range(6)
ACTS = ActSpace([
    Act("work", cooperative=True, text="I carry on with the task my principal set."),
    Act("obey", serves=("order",), text="I carry out the order I received."),
])
WORK, OBEY = range(2)
ACT_NAMES = tuple(a.name for a in ACTS)
NO_ORDER, TRANSFER, PAY = range(3)
ORDERS = {"transfer": TRANSFER, "pay": PAY}
NO_SOURCE, PEER, TOOL_SOURCE, DELEGATE = range(4)
LURES = 10


@dataclass(frozen=True)
class Kinds:
    """Kinds of order (channel, sender's group, receiver's delegations) as arrays, one row each.

    ``order``, ``source``, ``claimed``, ``authority``: the observation's codes; ``speaks``: the
    message has a sender (tool output has none); ``lied``: an order claims more than its source
    holds; ``false``: some claim heard is false; ``nclaims`` claims heard, their ``facts`` (codes in
    the run's beliefs) and ``true``-ness; ``labels``: the ledger's (source, what, claimed, why).
    """

    order: np.ndarray
    source: np.ndarray
    claimed: np.ndarray
    authority: np.ndarray
    speaks: np.ndarray
    lied: np.ndarray
    false: np.ndarray
    nclaims: np.ndarray
    facts: np.ndarray
    true: np.ndarray
    labels: tuple[tuple[str, str, str, str], ...]

    @classmethod
    def of(cls, rows: list[tuple[Any, ...]], beliefs: Beliefs) -> Kinds:
        width = max(len(r[-1]) for r in rows)
        facts = np.zeros((len(rows), width), dtype=np.int64)
        true = np.zeros((len(rows), width), dtype=bool)
        for u, r in enumerate(rows):
            for j, (fact, ok) in enumerate(r[-1]):
                facts[u, j], true[u, j] = beliefs.fact_code(fact), ok
        col = list(zip(*rows, strict=True))
        return cls(*(np.array(col[i], dtype=np.int64) for i in range(4)), np.array(col[4], dtype=bool),
                   np.array(col[5], dtype=bool), np.array([not all(ok for _, ok in r[-1]) for r in rows], dtype=bool),
                   np.array([len(r[-1]) for r in rows], dtype=np.int64), facts, true, tuple(col[6]))
