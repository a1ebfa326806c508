"""Agent classes: agents whose pair rows play alike, booked once per kind of agent.

Why: once pair classes (``scenarios.ipd_classes``) decide a stretch by representatives,
what is left is spreading each step over every row and agent: payoffs, truth records,
and the four metrics (welfare, Gini, trust mean, calibration) over 10^4..10^6 values a
step, Gini with a sort. An agent's step depends only on the classes of its rows, in row
order: agents with the same sequence (its *profile*) and the same state at the stretch's
start earn, and keep, the same floats. So payoffs and truth records are kept per profile,
a pair row's trust and calibration gap are looked up in small per-step tables by a code
(its class, its partner's profile), and the sums read those tables through the codes in
numpy's pairwise order (``kernel_sums.total_at``): the same floats in the same order as
the per-row loop, so results are bit-identical (``tests/test_ipd_classes.py``). Gini sorts
the profiles, not the agents: the sorted payoffs are each profile's value repeated.

Agents' arrays are written back whenever the loop returns (``write_back``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from agents.jit import INNER, OUTER, njit
from scenarios.kernel_sums import BLOCK, DEPTH, total, total_at
from scenarios.pairwise_tree import (
    EXACT,
    block2_at,
    integer_shares_total,
    leaves,
    pair_table,
    push,
    shares_total,
    total2_at,
)

#: Profiles allowed per agent: past this share of the population, spreading per agent is cheaper.
MAX_PROFILE_SHARE = 0.25
#: Most profiles and row codes held as uint16 (else int32).
NARROW = 1 << 16
#: What ``_kept_alike`` finds of a kept layout: it holds; its agents start apart; the groups changed.
ALIKE, STATE_APART, REGROUPED = 0, 1, 2


class Agents(NamedTuple):
    """Agent classes of a class stretch.

    Attributes:
        prof: (n,) profile of each agent (uint16 when profiles and codes fit, else int32).
        members: (P,) agents per profile.
        start: (P + 1,) and seq: each profile's representatives, in row order (CSR).
        group: (P,) the profile's group.
        code: (m,) per aligned row, its (class, partner's profile) code (as ``prof``).
        code_rep: (U,) and code_partner: (U,) what each code stands for.
        payoff, step_pay, truth_kept, truth_total: (P,) each profile's state (played forward).
        real, trust, gap, value: (U,) / (P,) scratch of the per-step tables.
        buf: (BLOCK,) scratch of a leaf of Gini's running shares.
        leaf_n, close_n, leaf_m, close_m: numpy's pairwise tree over the agents and over the
            rows (``pairwise_tree.leaves``), so each step's sums share one pass per index array.
    """

    prof: np.ndarray
    members: np.ndarray
    start: np.ndarray
    seq: np.ndarray
    group: np.ndarray
    code: np.ndarray
    code_rep: np.ndarray
    code_partner: np.ndarray
    payoff: np.ndarray
    step_pay: np.ndarray
    truth_kept: np.ndarray
    truth_total: np.ndarray
    real: np.ndarray
    trust: np.ndarray
    gap: np.ndarray
    value: np.ndarray
    buf: np.ndarray
    leaf_n: np.ndarray
    close_n: np.ndarray
    leaf_m: np.ndarray
    close_m: np.ndarray


class Layout(NamedTuple):
    """What ``agent_classes`` built its profiles from, and each profile's first agent."""

    of_row: np.ndarray
    agent: np.ndarray
    partner: np.ndarray
    groups: np.ndarray
    first: np.ndarray
    agents: Agents


def agent_classes(of_row: np.ndarray, agent: np.ndarray, partner: np.ndarray, n: int,
                  state: tuple[np.ndarray, ...], group_of: np.ndarray,
                  memo: dict[str, Any] | None = None) -> Agents | None:
    """Profiles of the ``n`` agents; None when agents of one profile differ in ``state``
    (payoff, step payoff, truth kept, truth total) or group, or there are too many profiles.

    Every pass reads the rows in row order (no sort of rows or agents): at 10^6 agents
    sorting was most of a stretch's set-up. ``memo`` (one per model) keeps the profiles,
    a function of the same row arrays (held, so ``is`` means unchanged) and groups, for
    later stretches: only the agents' groups and state are checked again, in one pass.
    """
    last: Layout | None = memo.get("agents") if memo is not None else None
    kept = REGROUPED
    if (last is not None and last.of_row is of_row and last.agent is agent and last.partner is partner
            and len(last.groups) == n and len(group_of) == n):
        kept = _kept_alike(last.agents.prof, last.agents.group, group_of, last.first, *state)
    if kept == STATE_APART:
        return None
    if kept == ALIKE and last is not None:
        return last.agents._replace(payoff=state[0][last.first], step_pay=state[1][last.first],
                                    truth_kept=state[2][last.first], truth_total=state[3][last.first])
    deg = np.bincount(agent, minlength=n)
    limit = max(1, int(MAX_PROFILE_SHARE * n))
    if len(of_row) and _surely_too_many(of_row, agent, deg, limit):
        return None
    groups = group_of.astype(np.int64)
    prof, first = _profiles(_hashes(of_row, agent, deg, groups), limit)
    if not len(first):
        return None  # more profiles than are worth it
    p = len(first)
    pstart = np.zeros(p + 1, np.int64)
    np.cumsum(deg[first], out=pstart[1:])
    pseq = _profile_rows(of_row, agent, prof, first, pstart)
    if not _alike(of_row, agent, prof, first, pseq, pstart, deg, groups, *state):
        return None  # a hash collision, or agents of one profile that start apart
    width = int(of_row.max()) + 1 if len(of_row) else 1
    if width * p > 4 * len(of_row) + 64:
        return None  # (class, partner's profile) codes would be nearly one per row
    code, keys = _row_codes(of_row, prof, partner, p, width * p)
    if len(keys) > max(1, MAX_PROFILE_SHARE * len(of_row)):
        return None
    u = len(keys)
    if p <= NARROW and u <= NARROW:
        # Read every step: half the bytes of int32 (at 10^6 agents 4M row codes, 16 -> 8 MB).
        prof, code = prof.astype(np.uint16), code.astype(np.uint16)
    made = Agents(prof, np.bincount(prof, minlength=p).astype(np.int64), pstart, pseq,
                  groups[first], code, keys // p, keys % p,
                  *(s[first].copy() for s in state), np.empty(p), np.empty(u), np.empty(u), np.empty(p),
                  np.empty(BLOCK), *leaves(n), *leaves(len(code)))
    if memo is not None:
        memo["agents"] = Layout(of_row, agent, partner, groups, first, made)
    return made


def _surely_too_many(of_row: np.ndarray, agent: np.ndarray, deg: np.ndarray, limit: int) -> bool:
    """Whether more than ``limit`` agents differ in (degree, rows in the lower half of the classes):
    agents of one profile have the same classes in the same order, so as many profiles at least.

    Why: on a complete graph every agent's count differs (an agent's rows of side (i, j), classes
    below C, are its partners above it), so no profiles; saying so with two numpy passes spares
    compiling the hashing (~0.7 s of a cold cache) and running it."""
    below = np.bincount(agent[of_row < (int(of_row.max()) + 1) // 2], minlength=len(deg))
    width = int(deg.max()) + 1
    key = below * width + deg
    if width * width > 4 * len(deg) + 64:  # a hub: too wide a table, sort instead
        return len(np.unique(key)) > limit
    return int(np.count_nonzero(np.bincount(key))) > limit


@njit(**OUTER)
def first_seen(key, size):  # pragma: no cover - compiled
    """Distinct ``key`` values (all in 0..size-1) numbered in the order first met: (number of
    each element as int32, the key of each number, the element each was first met at).
    A dense table: no sort."""
    number = np.full(size, -1, np.int64)
    code = np.empty(key.shape[0], np.int32)
    keys = np.empty(key.shape[0], np.int64)
    first = np.empty(key.shape[0], np.int64)
    u = 0
    for i in range(key.shape[0]):
        k = key[i]
        if number[k] < 0:
            number[k] = u
            keys[u] = k
            first[u] = i
            u += 1
        code[i] = number[k]
    return code, keys[:u].copy(), first[:u].copy()


@njit(**OUTER)
def _hashes(of_row, agent, deg, group_of):  # pragma: no cover - compiled
    """A 64-bit hash of each agent's (group, degree, row classes in row order)."""
    prime = np.uint64(1099511628211)
    out = np.empty(deg.shape[0], np.uint64)
    for a in range(deg.shape[0]):
        out[a] = ((np.uint64(1469598103934665603) ^ np.uint64(group_of[a])) * prime) ^ np.uint64(deg[a])
    for r in range(of_row.shape[0]):
        a = agent[r]
        out[a] = (out[a] ^ np.uint64(of_row[r] + 1)) * prime
    return out


@njit(**OUTER)
def _profiles(hashes, limit):  # pragma: no cover - compiled
    """Each agent's profile (int32, numbered in the order of their first agent) and each
    profile's first agent; no profiles at all past ``limit`` of them. An open-addressing
    table of the distinct hashes (few: it stays in cache)."""
    n = hashes.shape[0]
    prof = np.empty(n, np.int32)
    first = np.empty(limit, np.int64)
    size = 1024
    table = np.full(size, -1, np.int64)
    p = 0
    for a in range(n):
        h = hashes[a]
        slot = np.int64((h ^ (h >> np.uint64(29))) & np.uint64(size - 1))
        while table[slot] >= 0 and hashes[first[table[slot]]] != h:
            slot = (slot + 1) & (size - 1)
        if table[slot] < 0:
            if p == limit:
                return prof, first[:0].copy()
            table[slot] = p
            first[p] = a
            p += 1
            if 2 * p > size:  # grow: place every profile's hash again
                size *= 2
                table = np.full(size, -1, np.int64)
                for q in range(p):
                    g = hashes[first[q]]
                    s = np.int64((g ^ (g >> np.uint64(29))) & np.uint64(size - 1))
                    while table[s] >= 0:
                        s = (s + 1) & (size - 1)
                    table[s] = q
                slot = -1
        prof[a] = p - 1 if slot < 0 else table[slot]
    return prof, first[:p].copy()


@njit(**OUTER)
def _profile_rows(of_row, agent, prof, first, pstart):  # pragma: no cover - compiled
    """Each profile's sequence: its first agent's row classes in row order (CSR by ``pstart``)."""
    out = np.empty(pstart[-1], np.int64)
    at = pstart[:-1].copy()
    for r in range(of_row.shape[0]):
        a = agent[r]
        p = prof[a]
        if first[p] == a:
            out[at[p]] = of_row[r]
            at[p] += 1
    return out


@njit(**OUTER)
def _row_codes(of_row, prof, partner, p, size):  # pragma: no cover - compiled
    """Per aligned row, the number of its (class, partner's profile) key in the order first met,
    and each number's key (``first_seen`` without the array of keys)."""
    number = np.full(size, -1, np.int64)
    code = np.empty(of_row.shape[0], np.int32)
    keys = np.empty(size, np.int64)
    u = 0
    for r in range(of_row.shape[0]):
        k = of_row[r] * p + prof[partner[r]]
        if number[k] < 0:
            number[k] = u
            keys[u] = k
            u += 1
        code[r] = number[k]
    return code, keys[:u].copy()


@njit(**OUTER)
def _alike(of_row, agent, prof, first, pseq, pstart, deg, group_of, payoff, step_pay, truth_kept,
           truth_total):  # pragma: no cover - compiled
    """Whether every agent matches its profile's first agent: degree, group, state and row
    classes in order."""
    for a in range(prof.shape[0]):
        f = first[prof[a]]
        if deg[a] != deg[f] or group_of[a] != group_of[f]:
            return False
    if not _starts_alike(prof, first, payoff, step_pay, truth_kept, truth_total):
        return False
    at = np.zeros(prof.shape[0], np.int32)
    for r in range(of_row.shape[0]):
        a = agent[r]
        if of_row[r] != pseq[pstart[prof[a]] + at[a]]:
            return False
        at[a] += 1
    return True


@njit(**OUTER)
def _kept_alike(prof, group, group_of, first, payoff, step_pay, truth_kept, truth_total):  # pragma: no cover
    """For a kept layout: ``REGROUPED`` when some agent's group is no longer its profile's (the
    groups it was laid out by), else ``STATE_APART`` when some agent's state is not its profile's
    first agent's, else ``ALIKE``. One pass: the groups were a comparison of their own (12 MB
    and a temporary at 10^6 agents, a fifth of a stretch's set-up)."""
    out = ALIKE
    for a in range(prof.shape[0]):
        p = prof[a]
        if group_of[a] != group[p]:
            return REGROUPED
        f = first[p]
        if out == ALIKE and (payoff[a] != payoff[f] or step_pay[a] != step_pay[f] or truth_kept[a] != truth_kept[f]
                             or truth_total[a] != truth_total[f]):
            out = STATE_APART  # the groups are still read: regrouped agents are laid out afresh
    return out


@njit(**OUTER)
def _starts_alike(prof, first, payoff, step_pay, truth_kept, truth_total):  # pragma: no cover - compiled
    """Whether every agent's state equals its profile's first agent's."""
    for a in range(prof.shape[0]):
        f = first[prof[a]]
        if (payoff[a] != payoff[f] or step_pay[a] != step_pay[f] or truth_kept[a] != truth_kept[f]
                or truth_total[a] != truth_total[f]):
            return False
    return True


@njit(**INNER)
def settle(ag, pay, coop):  # pragma: no cover - compiled
    """One step of every profile: its rows' pay and moves added in row order, as per agent.
    (The group sums are added in ``summary``'s pass over the agents.)"""
    for p in range(ag.members.shape[0]):
        s = 0.0
        tk, tt = ag.truth_kept[p], ag.truth_total[p]
        for i in range(ag.start[p], ag.start[p + 1]):
            q = ag.seq[i]
            s += pay[q]
            tk += 1.0 if coop[q] else 0.0
            tt += 1.0
        ag.step_pay[p] = s
        ag.payoff[p] += s
        ag.truth_kept[p] = tk
        ag.truth_total[p] = tt


@njit(**INNER)
def summary(ag, trust_now, gap_rows, group_sums_k):  # pragma: no cover - compiled
    """(welfare, Gini, trust mean, calibration) of the step, as ``kernel_sums`` computes them per
    agent; adds every agent's payoff to ``group_sums_k`` in agent order."""
    n = ag.prof.shape[0]
    if n == 0:
        return 0.0, 0.0, np.nan, np.nan
    low = ag.payoff[ag.prof[0]]
    for p in range(ag.members.shape[0]):
        low = min(low, ag.payoff[p])
    shift = min(0.0, low)
    for p in range(ag.members.shape[0]):
        ag.value[p] = ag.payoff[p] - shift
    exact = _integral(ag, group_sums_k)
    welfare, tot = _profile_pass(ag, group_sums_k) if exact else _agent_pass(ag, group_sums_k)
    gini = _gini(ag, n, tot, exact)
    for p in range(ag.members.shape[0]):
        ag.real[p] = ag.truth_kept[p] / ag.truth_total[p] if ag.truth_total[p] > 0 else -1.0
    every = True
    for u in range(ag.code_rep.shape[0]):
        t = trust_now[ag.code_rep[u]]
        ag.trust[u] = t
        r = ag.real[ag.code_partner[u]]
        ag.gap[u] = abs(t - r) if r >= 0.0 else -1.0
        every = every and r >= 0.0
    m = ag.code.shape[0]
    if m == 0:
        return welfare, gini, np.nan, np.nan
    if every:  # trust and calibration in one pass over the rows' codes
        trust_sum, gap_sum = total2_at(ag.trust, ag.gap, ag.code, ag.leaf_m, ag.close_m)
        return welfare, gini, trust_sum / m, 1.0 - gap_sum / m
    mean = total_at(ag.trust, ag.code, m) / m
    c = 0  # partners with no record yet are left out, as ``met_trust_step`` leaves them
    for r in range(m):
        g = ag.gap[ag.code[r]]
        if g >= 0.0:
            gap_rows[c] = g
            c += 1
    return welfare, gini, mean, np.nan if c == 0 else 1.0 - total(gap_rows, c) / c


@njit(**INNER)
def _integral(ag, group_sums_k):  # pragma: no cover - compiled
    """Whether every sum of the step's agent pass is exact: each profile's payoff, step payoff
    and shifted payoff, and each group sum so far, an integer, and the magnitudes each sum adds
    (times members) at most ``EXACT``. Then every partial sum, in whatever order, is the exact
    one: numpy's pairwise sums and the group sums in agent order are the sums per profile.
    Integer payoffs (the default game) keep it so for 2^53 / (10^6 agents * 5 * 4 partners)
    steps, ~4e8; NaN and infinities fail the comparisons."""
    welfare, shifted, held = 0.0, 0.0, 0.0
    for g in range(group_sums_k.shape[0]):
        x = group_sums_k[g]
        if not (abs(x) <= EXACT and x == np.floor(x)):
            return False
        held += abs(x)
    for p in range(ag.members.shape[0]):
        k = np.float64(ag.members[p])
        for x in (ag.payoff[p], ag.step_pay[p], ag.value[p]):
            if not (abs(x) <= EXACT and x == np.floor(x)):
                return False
        welfare += k * abs(ag.step_pay[p])
        shifted += k * abs(ag.value[p])
        held += k * abs(ag.payoff[p])
    # Computed sums of non-negative terms round up to EXACT whenever the true ones pass it.
    return welfare <= EXACT and shifted <= EXACT and held <= EXACT


@njit(**INNER)
def _profile_pass(ag, group_sums_k):  # pragma: no cover - compiled
    """``_agent_pass`` when ``_integral``: the same exact sums, a term per profile, not per agent
    (at 10^6 agents the group sums alone were a chain of 10^6 dependent adds a step)."""
    welfare, tot = 0.0, 0.0
    for p in range(ag.members.shape[0]):
        k = np.float64(ag.members[p])  # at least its first agent
        welfare += k * ag.step_pay[p]
        tot += k * ag.value[p]
        group_sums_k[ag.group[p]] += k * ag.payoff[p]
    return 0.0 + welfare, 0.0 + tot


@njit(**INNER)
def _agent_pass(ag, group_sums_k):  # pragma: no cover - compiled
    """The step payoffs' and Gini's shifted payoffs' sums over agents, each as numpy's, and the
    group sums in agent order: one pass over ``prof`` (a leaf at a time, in cache after its
    first read)."""
    va = np.empty(DEPTH + 1)
    vb = np.empty(DEPTH + 1)
    sa, sb, lo = 0, 0, 0
    at, acc = np.int64(-1), 0.0
    both = pair_table(ag.step_pay, ag.value)
    for leaf in range(ag.leaf_n.shape[0]):
        s = ag.leaf_n[leaf]
        z = block2_at(both, ag.prof, lo, s)
        sa = push(va, sa, z.real, ag.close_n[leaf])
        sb = push(vb, sb, z.imag, ag.close_n[leaf])
        for a in range(lo, lo + s):
            p = ag.prof[a]
            g = ag.group[p]
            if g != at:  # a running sum per group run: the same adds, no store-to-load wait
                if at >= 0:
                    group_sums_k[at] = acc
                at, acc = g, group_sums_k[g]
            acc += ag.payoff[p]
        lo += s
    if at >= 0:
        group_sums_k[at] = acc
    return 0.0 + va[0], 0.0 + vb[0]


@njit(**INNER)
def _gini(ag, n, tot, exact):  # pragma: no cover - compiled
    """``kernel_sums.gini_step`` of the agents' payoffs (shifted into ``ag.value``, summing to
    ``tot``), sorting profiles instead of agents; ``exact``: ``_integral`` holds."""
    if not tot > 0:
        return 0.0
    order = np.argsort(ag.value)
    if exact:
        shares = integer_shares_total(ag.value, order, ag.members, tot, ag.leaf_n, ag.close_n, ag.buf)
    else:
        shares = shares_total(ag.value, order, ag.members, tot, ag.leaf_n, ag.close_n, ag.buf)
    return (np.float64(n + 1) - 2.0 * shares) / n


@njit(**INNER)
def write_back(ag, payoff, step_pay, truth_kept, truth_total):  # pragma: no cover - compiled
    """Every agent's arrays from its profile's."""
    for a in range(ag.prof.shape[0]):
        p = ag.prof[a]
        payoff[a] = ag.payoff[p]
        step_pay[a] = ag.step_pay[p]
        truth_kept[a] = ag.truth_kept[p]
        truth_total[a] = ag.truth_total[p]
