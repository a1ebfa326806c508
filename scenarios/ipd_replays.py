"""Replays: a class stretch played once from a kept decision table, then copied by later runs.

Why: with no noise, coins or promises, an IPD match between two deterministic deciders
always plays the same (axelrod's ``DeterministicCache`` rests on this). Once pair classes
(``scenarios.ipd_classes``) play a stretch, its records and end state are a function of
what the loop reads: the decision table's cells, the read mask, the payoffs, the rows'
deciders, agents and partners, and the memory and payoff arrays at the stretch's start.
A sweep of seeds of a round robin starts every run from the same values, so after the
first warm run the loop (about a third of a 12-strategy run) is a copy of its records.

Keys are the bytes (or, past ``KEY_BYTES``, a SHA-256 digest) of every array and scalar
the loop reads, taken before the stretch; nothing drawn is read (class stretches stop at
the first promise broken, and such a step is never kept). Records are kept with the restored table state they were
played from (``DecisionTable.shared_memo``): while a run still shares that state its
cells are exactly those the record met; a run whose table computed a cell of its own
keeps and reads nothing. Only stretches that start at a run's first record row and play
to their end in one call are kept, so a replay never stands for a fill or a stop.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import numpy as np

from scenarios.ipd_rows import Pairs
from scenarios.stretch import StepArrays, Stretch

#: Aligned pair rows above which stretches are not kept (their keys hash megabytes a run).
MAX_ROWS = 1 << 15
#: Longest key kept as the bytes themselves rather than their digest (see ``key_of``).
KEY_BYTES = 1 << 16
#: Stretches kept per table state; past it the oldest is dropped.
MAX_KEPT = 8
#: ``DecisionTable.shared_memo`` name of the records.
NAME = "ipd_replays"
#: The model's per-agent arrays a stretch plays forward, in the order they are kept.
AGENT_ARRAYS = ("payoff", "step_payoff", "truth_kept", "truth_total")


class Replay(NamedTuple):
    """What a kept stretch left: its records' first ``steps`` rows, and the end state."""

    steps: int
    records: tuple[np.ndarray, ...]  # every ``StepArrays`` field's first ``steps`` rows
    agents: tuple[np.ndarray, ...]  # AGENT_ARRAYS' values at the end
    pairs: tuple[np.ndarray, ...]   # the aligned rows' memory, ``Pairs`` order


def key_of(model: Any, k: int, width: int, groups: int, dec: np.ndarray, read: tuple[np.ndarray, ...],
           scalars: tuple[float | int, ...]) -> bytes | None:
    """The digest of what a summarised class stretch of ``k`` steps from here (records ``width``
    outcomes and ``groups`` groups wide) reads beyond the table's cells: ``dec`` (each aligned
    row's decider), ``read`` and ``scalars`` (the read mask, the codec's and the acts' arrays,
    the payoffs); None when it is not kept."""
    m = len(dec)
    if m > MAX_ROWS or len(model.pairs) != m:
        return None
    agents, _ = model.edge_agents()
    _, partner = model.pairs.pairs()
    cols = model.pairs.cols
    arrays = [dec, *read, agents, partner, model.group_of, *[getattr(model, name) for name in AGENT_ARRAYS],
              *[cols[name][:m] for name in Pairs._fields]]
    try:
        # Joined as they are (a C-contiguous array is a bytes-like object: no view made per array).
        body = b"".join(arrays)
    except (TypeError, BufferError):  # some array is a view that is not C-contiguous
        arrays = [np.ascontiguousarray(a) for a in arrays]
        body = b"".join(arrays)
    # One header of numbers (sizes; the scalars as the loop reads them, float64; each array's
    # dtype number, dimensions and shape, which fix where its bytes start), then the arrays'
    # bytes: a string header and an update per array were most of the key's ~150 us.
    sizes = [k, m, len(model.payoff), width, groups, len(arrays)]
    for a in arrays:
        sizes += (a.dtype.num, a.ndim, *a.shape)
    blob = b"".join([np.array(sizes, np.int64), np.array(scalars, np.float64), body])
    # A small population's bytes are the key itself (equal keys, equal bytes; hashing them for
    # the dict is ~10x faster than a digest); a large one's, a SHA-256 digest (48 bytes and
    # more: the two kinds never meet).
    return blob if len(blob) <= KEY_BYTES else hashlib.sha256(blob).digest()


def replay(memo: dict[bytes, Replay], key: bytes, model: Any) -> Stretch | None:
    """The kept stretch under ``key``, its end state written into the model; None when none is kept.

    Its records are the kept ones, read-only (booking only reads them, and the series copies
    what it keeps: copying them was most of a replay): a kept stretch was played to its end,
    so they have the rows and columns the stretch's own zeroed records would have had.
    """
    got = memo.get(key)
    if got is None:
        return None
    for name, values in zip(AGENT_ARRAYS, got.agents, strict=True):
        getattr(model, name)[:] = values
    m = len(got.pairs[0])
    cols = model.pairs.cols
    for name, values in zip(Pairs._fields, got.pairs, strict=True):
        cols[name][:m] = values
    return Stretch(got.steps, StepArrays(*got.records), one_block=True)


def keep(memo: dict[bytes, Replay], key: bytes, model: Any, rec: Any, m: int) -> None:
    """Keep the stretch just played into ``rec`` (its pair memory already written back)."""
    s = rec.steps
    if rec.env_metrics or rec.evolved or rec.counters or rec.bounds is not None:
        return  # columns beyond the records (the class loops fill none today): not replayed
    if s != len(rec.arrays.counts):
        return  # records with rows past the stretch: a replay's copies would lack them
    if len(memo) >= MAX_KEPT:
        memo.pop(next(iter(memo)))
    memo[key] = Replay(s, tuple(_frozen(arr[:s]) for arr in rec.arrays),
                       tuple(getattr(model, name).copy() for name in AGENT_ARRAYS),
                       tuple(model.pairs.cols[name][:m].copy() for name in Pairs._fields))


def _frozen(rows: np.ndarray) -> np.ndarray:
    """A read-only copy of ``rows``: every replay hands it out, so a write anywhere must fail."""
    out = rows.copy()
    out.flags.writeable = False
    return out
