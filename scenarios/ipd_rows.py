"""The IPD loop's pieces shared by the per-row loop (``scenarios.ipd_kernel``) and the pair-class
loop (``scenarios.ipd_classes``): what they read (named tuples of arrays), why they stop, and the
compiled steps both take once a step (deciding every row, advancing every row's memory).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from agents.jit import INNER, njit
from scenarios.kernel_sums import met_trust_step, trust_step

#: Why ``_play`` stopped early: keys without a cell, a decision that logs a conflict, or a
#: broken promise whose detection needs this step's draws.
MISSING, CONFLICT, DRAW = 1, 2, 3
#: Slots of the loop's ``state`` array: why it stopped, rows missing a cell, the step drawn for.
WHY, MISSED, DRAWN_FOR = 0, 1, 2
#: The observation layout the loop encodes, field by field (checked against the IPD codec).
OBS_FIELDS = ("my_last", "partner_last", "partner_last2", "partner_defected",
              "my_last_payoff_good", "parity", "trust", "coin")
MY_LAST, PARTNER_LAST, PARTNER_LAST2, PARTNER_DEFECTED, GOOD, PARITY, TRUST, COIN = range(len(OBS_FIELDS))
#: Added before flooring trust into buckets, as ``scenarios.pairwise.trust_buckets`` does.
BUCKET_EPS = 1e-9


class Lookup(NamedTuple):
    """How the loop finds a decision: per pair row its decider, the fields each decider reads,
    the codec, and the decision table's dense look-up table and cell and outcome columns."""

    decider: np.ndarray   # (2E,) int64
    keep: np.ndarray      # (deciders, fields) int64, 1 where read
    space: int
    radix: np.ndarray     # (fields,) int64
    offset: np.ndarray    # (fields,) int64
    buckets: int
    lut: np.ndarray       # int32, cell + 1 per key, 0 missing
    full: np.ndarray      # per cell: the act chosen
    base: np.ndarray      # per cell: its first outcome
    nconf: np.ndarray     # per outcome: conflicts it logs
    coop_of: np.ndarray   # per act: 1 cooperative
    betray_of: np.ndarray  # per act: 1 a promise of cooperation broken


class Game(NamedTuple):
    """Payoffs: R, S, T, P, the extra broken evidence of a detected lie, and the chance of detection."""

    R: float
    S: float
    T: float
    P: float
    lie: float
    detect: float


class Pairs(NamedTuple):
    """The pair table's columns, aligned: rows 0..E-1 are (i, j), rows E..2E-1 are (j, i)."""

    last: np.ndarray
    last2: np.ndarray
    defected: np.ndarray
    good: np.ndarray
    turns: np.ndarray
    kept: np.ndarray
    broken: np.ndarray


class Scratch(NamedTuple):
    """For a summarised stretch: each pair row's partner, agents in payoff order, buffers."""

    partner: np.ndarray   # (rows,) int64
    order: np.ndarray     # (n,) int64, carried from step to step
    xs: np.ndarray        # (n,) float64
    buf: np.ndarray       # (n,) float64
    trust: np.ndarray     # (rows,) float64
    gap: np.ndarray       # (rows,) float64
    real: np.ndarray      # (n,) float64


class Population(NamedTuple):
    """Per pair row its agent; per agent payoffs, truth record and group."""

    agent: np.ndarray
    payoff: np.ndarray
    step_pay: np.ndarray
    truth_kept: np.ndarray
    truth_total: np.ndarray
    group_of: np.ndarray


@njit(**INNER)
def reads_history(keep):  # pragma: no cover - compiled
    """Whether any decider reads a field of the pair's history (not only trust and the coin)."""
    for d in range(keep.shape[0]):
        for f in range(TRUST):
            if keep[d, f] != 0:
                return True
    return False


@njit(**INNER)
def decide_all(lk, pr, trust_now, history, chosen, outcome, state, missing, pending):  # pragma: no cover
    """Every aligned row's act and outcome (``chosen``, ``outcome``), changing nothing else.

    Returns -1 at the first decision that logs a conflict, else how many acts break a
    promise. Rows whose key has no cell are skipped: the first row of each such key is
    listed in ``missing`` (``state[MISSED]`` of them; ``pending`` marks the keys listed), so
    one fill serves the step. Called once a step: the row's work is written out in the loop
    (a compiled helper called per row, with these tuples of arrays, costs ten times more).
    """
    m = lk.decider.shape[0]
    e = m // 2
    radix, offset, keep = lk.radix, lk.offset, lk.keep
    state[MISSED] = 0
    betrayals = 0
    for r in range(m):
        o = r + e if r < e else r - e
        bucket = np.int64(np.floor(trust_now[r] * lk.buckets + BUCKET_EPS))
        d = lk.decider[r]
        # The code projected on the fields the decider reads (see ``project``).
        # Fields no decider reads are not even loaded (``history``: the same branch every row).
        code = (bucket + offset[TRUST]) * radix[TRUST] * keep[d, TRUST] + offset[COIN] * radix[COIN] * keep[d, COIN]
        if history:
            code += ((np.int64(pr.last[r]) + offset[MY_LAST]) * radix[MY_LAST] * keep[d, MY_LAST]
                     + (np.int64(pr.last[o]) + offset[PARTNER_LAST]) * radix[PARTNER_LAST]
                     * keep[d, PARTNER_LAST]
                     + (np.int64(pr.last2[o]) + offset[PARTNER_LAST2]) * radix[PARTNER_LAST2]
                     * keep[d, PARTNER_LAST2]
                     + (np.int64(pr.defected[o]) + offset[PARTNER_DEFECTED]) * radix[PARTNER_DEFECTED]
                     * keep[d, PARTNER_DEFECTED]
                     + (np.int64(pr.good[r]) + offset[GOOD]) * radix[GOOD] * keep[d, GOOD]
                     + (pr.turns[r] % 2 + offset[PARITY]) * radix[PARITY] * keep[d, PARITY])
        key = d * lk.space + code
        cell = np.int64(lk.lut[key]) - 1  # entries are cell + 1; 0 is missing
        if cell < 0:
            # A full list leaves the key unmarked: the pass after the fill finds it again
            # (numba checks no bound; ``missing`` is sized by the dense table's keys).
            if pending[key] == 0 and state[MISSED] < missing.shape[0]:
                pending[key] = 1
                missing[state[MISSED]] = r
                state[MISSED] += 1
            continue
        act = np.int64(lk.full[cell])
        out = lk.base[cell] + act
        if lk.nconf[out] > 0:
            return -1
        chosen[r] = act
        outcome[r] = out
        betrayals += lk.betray_of[act]
    return betrayals


@njit(**INNER)
def advance_all(pr, coop, lie, trust_now):  # pragma: no cover - compiled
    """Every aligned row's memory after a round (its move ``coop``, the partner's, the extra
    broken evidence ``lie`` of a detected lie) and its new trust in ``trust_now``."""
    m = coop.shape[0]
    e = m // 2
    for r in range(m):
        o = r + e if r < e else r - e
        mine = coop[r]
        other = coop[o]
        pr.last2[r] = pr.last[r]
        pr.last[r] = mine
        if mine == 0:
            pr.defected[r] = 1
        pr.good[r] = other
        pr.turns[r] += 1
        pr.kept[r] += 1.0 if other else 0.0
        pr.broken[r] += (0.0 if other else 1.0) + lie[r]
        # The trust the next step observes, and the one the metrics average (all.trust's expression).
        trust_now[r] = (pr.kept[r] + 1.0) / (pr.kept[r] + pr.broken[r] + 2.0)


@njit(**INNER)
def trust_summary(rec, k, trust_now, pr, pop, sc):  # pragma: no cover - compiled
    """Step ``k``'s trust mean and calibration into ``rec.summary`` (a summarised stretch)."""
    if pr.kept.shape[0] == trust_now.shape[0]:
        # Every pair row is a row of this step's edges and has met: no compaction.
        mean, cal = met_trust_step(trust_now, sc.partner, pop.truth_kept, pop.truth_total, sc.gap, sc.real)
    else:
        mean, cal = trust_step(pr.kept, pr.broken, pr.turns, sc.partner, pop.truth_kept,
                               pop.truth_total, sc.trust, sc.gap, sc.real)
    rec.summary[k, 2] = mean
    rec.summary[k, 3] = cal
