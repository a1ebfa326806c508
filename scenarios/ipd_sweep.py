"""One pass over the pair rows a step, for IPD stretches whose deciders read only trust.

Why: ``scenarios.ipd_kernel._play`` makes a decision pass, a settling pass
and three metric passes over the pair rows every step (each row's trust, its
partner's conduct, the gap between them), which at 10^6 agents means ~200 MB
of memory traffic a step. When no decider reads a field of the pair's history
(trust-network's reciprocal traders read only trust, opportunists nothing), a
row's next decision depends on nothing but the trust its settling has just
computed, so one pass does it all: settle the step, sum the trust and the
calibration gap into numpy's pairwise-summation leaves as they are produced,
and decide the next step. The next step's decisions are also what makes the
partners' conduct of the step known before its calibration is computed (an
agent's truth record after a step is its record before plus its moves).

Results are bit-identical to ``_play`` and to stepping (``tests/test_fused.py``,
``tests/test_fused_network.py``, ``tests/test_ipd_sweep.py``): sums follow numpy's
pairwise tree leaf by leaf (``scenarios.kernel_sums``), payoffs are added in row
order, and Gini's sorted payoffs, when payoffs are whole numbers, come from a
count per value (every partial sum then exact, so only the sorted values count).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

from scenarios.kernel_sums import BLOCK, _block, gini_step, total, walk

#: Most payoff values Gini counts per agent before it sorts instead.
COUNT_SPAN = 4
#: Whole-number payoffs stay exact below this (a float64 holds every integer to 2**53).
EXACT = float(2**50)


class Table(NamedTuple):
    """Per decider and trust bucket (``d * (buckets + 1) + b``): act (-1 no cell), outcome, conflicts."""

    act: np.ndarray       # int64
    out: np.ndarray       # int64
    conflict: np.ndarray  # int8
    key: np.ndarray       # int64, the dense-table key (listed while missing)
    buckets: int


class Rows(NamedTuple):
    """Per pair row: its agent, its partner, its decider (int32), and numpy's summation leaves."""

    agent: np.ndarray
    partner: np.ndarray
    decider: np.ndarray
    leaf_lo: np.ndarray   # leaves of a pairwise sum over the rows, in order
    leaf_len: np.ndarray
    degree: np.ndarray    # per agent, float64: rows it plays a step


def leaves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of the blocks numpy's pairwise sum of ``n`` elements adds straight, in order."""
    lo: list[int] = []
    size: list[int] = []
    stack = [(0, n)]
    while stack:
        at, k = stack.pop()
        if k <= BLOCK:
            lo.append(at)
            size.append(k)
            continue
        half = k // 2
        half -= half % 8
        stack.append((at + half, k - half))
        stack.append((at, half))
    return np.array(lo, np.int64), np.array(size, np.int64)


@njit(cache=True, nogil=True)
def tree_total(vals, n):  # pragma: no cover - compiled
    """``total`` of ``n`` elements whose leaf sums (``leaves(n)``, in order) are ``vals``."""
    return 0.0 + walk(vals, 0, n, True)


@njit(cache=True, nogil=True)
def gini_counted(x, lo, hi, hist, buf, n):  # pragma: no cover - compiled
    """``gini_step`` of whole-number payoffs in ``[lo, hi]``, sorted by counting (``hist``: hi - lo + 1)."""
    shift = min(0.0, lo)
    width = np.int64(hi - lo) + 1
    for b in range(width):
        hist[b] = 0
    tot = 0.0
    for i in range(n):
        hist[np.int64(x[i] - lo)] += 1
        tot += x[i] - shift  # exact: whole numbers below 2**53, so any order gives numpy's sum
    if not tot > 0:
        return 0.0
    run = 0.0
    i = 0
    for b in range(width):
        v = lo + b - shift
        for _ in range(hist[b]):
            run += v
            buf[i] = run / tot
            i += 1
    return (np.float64(n + 1) - 2.0 * total(buf, n)) / n


@njit(cache=True, nogil=True)
def _list_missing(rows, tab, pr, state, missing, pending):  # pragma: no cover - compiled
    """List one row per distinct key without a cell (``pending`` marks keys listed); returns how many."""
    for r in range(rows.agent.shape[0]):
        t = (pr.kept[r] + 1.0) / (pr.kept[r] + pr.broken[r] + 2.0)
        slot = rows.decider[r] * (tab.buckets + 1) + np.int64(np.floor(t * tab.buckets + 1e-9))
        if tab.act[slot] < 0 and pending[tab.key[slot]] == 0:
            pending[tab.key[slot]] = 1
            missing[state[1]] = r
            state[1] += 1
    return state[1]


@njit(cache=True, nogil=True)
def _count_turns(turns, m, played):  # pragma: no cover - compiled
    for r in range(m):
        turns[r] += played


@njit(cache=True, nogil=True)
def sweep(k0, k_max, rows, tab, game, pr, pop, rec, state, missing, pending, rng, skip,
          coop_of, betray_of, integral, hist, order, xs, buf, chosen, nxt, tk, cnt, real,
          leaf_t, leaf_g, tb, gb, draws):  # pragma: no cover - compiled
    """Play steps ``k0``..``k_max - 1``; returns the next step. ``state``: why it stopped (1
    ``MISSING``, ``state[1]`` rows listed; 2 ``CONFLICT``), draws skipped in ``state[3]``.

    A step's decisions are made while the step before it settles, so a step whose keys lack
    a cell or log a conflict is found before it changes anything, and is left to the caller.
    """
    m = rows.agent.shape[0]
    e = m // 2
    n = pop.payoff.shape[0]
    width = cnt.shape[1]
    state[0], state[1] = 0, 0
    for c in range(width):
        cnt[0, c] = 0
    for i in range(n):
        tk[i] = pop.truth_kept[i]
    # The first step's decisions, from the trust the pair table holds now.
    betrayals = 0
    miss = False
    conflict = 0
    for r in range(m):
        t = (pr.kept[r] + 1.0) / (pr.kept[r] + pr.broken[r] + 2.0)
        slot = rows.decider[r] * (tab.buckets + 1) + np.int64(np.floor(t * tab.buckets + 1e-9))
        act = tab.act[slot]
        if act < 0:
            miss = True
            continue
        conflict += tab.conflict[slot]
        chosen[r] = act
        tk[rows.agent[r]] += coop_of[act]
        cnt[r & 3, tab.out[slot]] += 1
        betrayals += betray_of[act]
    if miss:
        _list_missing(rows, tab, pr, state, missing, pending)
        state[0] = 1
        return k0
    if conflict:
        state[0] = 2
        return k0
    # With every broken promise seen (or none), a skipped draw is read as that.
    skip_seen = game.detect >= 1.0
    # Locals, not tuple fields, in the loops: numba then keeps no reference counting in them.
    last2, last_, defected, good, kept_, broken_ = pr.last2, pr.last, pr.defected, pr.good, pr.kept, pr.broken
    agent, partner, decider, degree = rows.agent, rows.partner, rows.decider, rows.degree
    leaf_lo, leaf_len = rows.leaf_lo, rows.leaf_len
    t_act, t_out, t_conf, buckets = tab.act, tab.out, tab.conflict, tab.buckets
    step_pay, payoff, truth_kept, truth_total, group_of = pop.step_pay, pop.payoff, pop.truth_kept, pop.truth_total, pop.group_of
    counts, group_sums, summary = rec.counts, rec.group_sums, rec.summary
    R, S, T, P, lie, detect = game.R, game.S, game.T, game.P, game.lie, game.detect
    for k in range(k0, k_max):
        # Step k's decisions are in ``chosen``, their counts in ``cnt`` and moves in ``tk``.
        for q in range(cnt.shape[0]):
            for c in range(width):
                counts[k, c] += cnt[q, c]
                cnt[q, c] = 0
        for i in range(n):
            truth_kept[i] = tk[i]
            truth_total[i] += degree[i]
            real[i] = tk[i] / truth_total[i] if truth_total[i] > 0 else -1.0
            step_pay[i] = 0.0
        live = betrayals > 0 and not skip
        if betrayals > 0 and skip:
            state[3] += m
        elif live:
            # IPD.step's detection draws, one per row in row order.
            for r in range(m):
                draws[r] = rng.random()
        decide = k + 1 < k_max
        nb = 0
        miss = False
        conflict = 0
        for leaf in range(leaf_lo.shape[0]):
            lo = leaf_lo[leaf]
            size = leaf_len[leaf]
            for r in range(lo, lo + size):
                o = r + e if r < e else r - e
                mine = coop_of[chosen[r]]
                theirs = chosen[o]
                other = coop_of[theirs]
                pay = (R if other else S) if mine else (T if other else P)
                step_pay[agent[r]] += pay
                seen = betray_of[theirs] == 1 and (draws[r] < detect if live else skip_seen)
                last2[r] = last_[r]
                last_[r] = mine
                if mine == 0:
                    defected[r] = 1
                good[r] = other
                kept = kept_[r] + (1.0 if other else 0.0)
                broken = broken_[r] + (0.0 if other else 1.0) + lie * (1.0 if seen else 0.0)
                kept_[r] = kept
                broken_[r] = broken
                t = (kept + 1.0) / (kept + broken + 2.0)
                tb[r - lo] = t
                # Every partner played this step, so its record is not empty (real >= 0).
                gb[r - lo] = abs(t - real[partner[r]])
                if decide:
                    slot = decider[r] * (buckets + 1) + np.int64(np.floor(t * buckets + 1e-9))
                    act = t_act[slot]
                    if act < 0:
                        miss = True
                        act = 0
                    conflict += t_conf[slot]
                    nxt[r] = act
                    tk[agent[r]] += coop_of[act]
                    cnt[r & 3, t_out[slot]] += 1
                    nb += betray_of[act]
            leaf_t[leaf] = _block(tb, 0, size)
            leaf_g[leaf] = _block(gb, 0, size)
        lo_pay, hi_pay = np.inf, -np.inf
        for i in range(n):
            payoff[i] += step_pay[i]
            group_sums[k, group_of[i]] += payoff[i]
            lo_pay = min(lo_pay, payoff[i])
            hi_pay = max(hi_pay, payoff[i])
        summary[k, 0] = total(step_pay, n)
        if integral and hi_pay - lo_pay <= COUNT_SPAN * n:
            summary[k, 1] = gini_counted(payoff, lo_pay, hi_pay, hist, buf, n)
        else:
            summary[k, 1] = gini_step(payoff, order, xs, buf)
        summary[k, 2] = tree_total(leaf_t, m) / m
        summary[k, 3] = 1.0 - tree_total(leaf_g, m) / m
        # Rounds played are added to the rows' turns when the call ends (no decider reads parity).
        played = k - k0 + 1
        if not decide:
            _count_turns(pr.turns, m, played)
            return k_max
        if miss or conflict:
            _count_turns(pr.turns, m, played)
            if miss:
                _list_missing(rows, tab, pr, state, missing, pending)
            state[0] = 1 if miss else 2
            return k + 1
        chosen, nxt = nxt, chosen
        betrayals = nb
    return k_max


def ready(model: Any, keep: np.ndarray, first: int) -> bool:
    """Whether ``sweep`` may play: no decider reads a history field (``first``: trust's field
    index), the loop keeps summaries only, and every pair row is one of the step's rows."""
    return (not keep[:, :first].any() and bool(getattr(model, "summarisable", False))
            and len(model.pairs) == 2 * len(model.edges))
