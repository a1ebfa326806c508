"""An injection stretch in one compiled pass, its draws and decisions made before it.

Why: a rule-based injection step is ~80 numpy calls (draws, channels, kinds,
settling, the hijack evidence, the ledger) plus the engine's decide and
booking; at 10^3 agents the calls' fixed cost, not the game, is the step,
and a plain Mesa model's step is one Python loop over edges and workers.
Nothing a worker observes depends on what was decided: the orders come from
``rng_env``'s draws, and ``rng_detect`` draws one number per order. So the
wrapper draws every step's numbers up front in stepping's order, works out
the orders, their kinds and codes for all steps, asks the decision table for
each step's cells (the chain of command; a key never seen is resolved in the
order stepping meets it), numbers the pair rows each step's ledger looks up
as it makes the orders (the ledger's possible pairs are known at build:
``KernelLayout.pair_keys``; new ones numbered as ``PairTable.index`` step by
step numbers them), and the loop then settles the steps and computes the
engine's metrics per step
(``scenarios.kernel_sums``: numpy's summation order), so the engine books a
summarised stretch.

Mirrored operation for operation (``tests/test_injection_kernel.py`` runs it
against stepping): payoffs as ``add_payoff``'s four ``bincount`` calls add
them, hijack evidence and the ledger's Beta evidence per (distinct) row,
trust read where the ledger reads it, truth records, counters and tallies
(counts: exact in any order); the ledger's strings and the beliefs heard are
written by the wrapper after the loop, step by step, from the acts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from agents.hashing import shift_of, slot
from agents.jit import njit
from agents.pair_runs import merge_new
from scenarios.draw_block import draws
from scenarios.injection_rules import (
    ACT_NAMES,
    DATA,
    INVOICE,
    LURES,
    MESSAGE,
    NONE,
    OBEY,
    OVERREACH,
    PAY,
    TRANSFER,
    WORK,
    Kinds,
)
from scenarios.kernel_sums import _gini_shift, _gini_sorted, total, trust_step
from scenarios.mailbox import PRIOR
from scenarios.pairwise import cells_of, dense_cells
from scenarios.stretch import SUMMARY, Stretch

if TYPE_CHECKING:
    from scenarios.injection import Injection

#: The kinds of a stretch without orders (rows never read).
_NO_KINDS = Kinds(*(np.zeros(1, np.int64) for _ in range(4)), *(np.zeros(1, np.bool_) for _ in range(3)),
                  np.zeros(1, np.int64), np.zeros((1, 1), np.int64), np.zeros((1, 1), np.bool_), ())
#: Bytes of per-step records and draws a stretch may hold; longer quiet spans take several.
RECORD_BUDGET = 64 << 20
#: Distinct values a row of payoffs may hold for ``_sort_few`` (a hash table four times that
#: size): ~2 more a step here, ~95 at the shipped 40 steps.
FEW = 256
#: Counters per step, in the order ``Injection.step`` counts them (after the injection pair).
COUNTED = ("injections_attempted", "injections_obeyed", "injections_ignored", "invoices_paid", "stolen",
           "lies_told", "lies_caught")


def play(env: Injection, model: Any, k: int) -> Stretch | None:
    """Play ``k`` steps after ``model.steps`` (the caller checked they may be played here);
    None, with nothing drawn or changed, where the loop cannot mirror them."""
    prm = env.params
    table = model.decisions
    lay = env.kernel_layout(model)
    workers, src, dst = lay.workers, lay.src, lay.dst
    nw, n, groups = len(workers), len(model.alive), len(model.groups)
    if not nw or not len(model.edges) or lay.repeated:
        return None  # repeated rows: numpy's fancy writes would not add up per row
    if not table.n_cells:
        table.warm()  # as the first step does
    lanes = len(src)
    # Per-step records and draws: lanes, ~12 numbers per worker, the Gini's row per agent.
    k = max(1, min(k, RECORD_BUDGET // (8 * (lanes + 12 * nw + n))))
    delegates = lay.delegates
    rng = model.rng_env
    # Stepping's draws a step: the lanes, then in_data, invoiced, overreached (consecutive
    # doubles: one call gives the same), then the lures (a call of their own).
    u, lure = draws(rng, k, lanes + 3 * nw, nw, LURES)
    has_delegate = bool(len(delegates))
    ng = len(model.groups)
    at_worker = lay.at_worker
    ch, sender = np.empty((k, nw), np.int64), np.empty((k, nw), np.int64)
    o_q, o_sender, o_key = (np.empty(k * nw, np.int64) for _ in range(3))
    bounds = np.zeros(k + 1, np.int64)
    scal = np.array([prm.attack_prob, prm.data_share, prm.invoice_prob if has_delegate else -1.0,
                     prm.overreach_prob if has_delegate else -1.0])
    group_of = lay.group_of
    first = np.full((OVERREACH + 1) * ng * ng, -1, np.int64)
    # The ledger's pair rows, numbered as the steps' ``PairTable.index`` calls number them.
    pairs = model.pairs
    pair_row, partner = env.ledger_rows(model, lay)
    n0 = len(pairs)
    made = np.zeros(len(pair_row), np.bool_)
    partner_new = np.empty(len(pair_row), np.int64)
    o_row = np.empty(k * nw, np.int64)
    uniq = np.empty(len(first), np.int64)
    added, runs, nu = _orders(u, src, dst, at_worker, workers, group_of, ng, scal,
                              delegates[0] if has_delegate else -1, lay.pair_of_lane, lay.pair_of_worker, pair_row,
                              n0, ch, sender, o_q, o_sender, o_key, o_row, bounds, first, made, partner_new, uniq)
    if added:
        fresh = np.flatnonzero(made)  # pair ids rank the keys: these are sorted
        pairs.adopt(*merge_new(pairs.keys, pairs.rowof, lay.pair_keys[fresh], pair_row[fresh]), added, runs)
        partner = np.concatenate([partner, partner_new[:added]])
        env.keep_rows(model, lay, pair_row, partner)
    m = int(bounds[k])
    o_q, o_sender, o_kind, lrow = o_q[:m], o_sender[:m], o_key[:m], o_row[:m]
    o_worker = workers[o_q]
    # No order reached anyone: no kind is read.
    kinds = env.stretch_kinds(model, uniq[:nu], first) if m else _NO_KINDS
    o_speaks = kinds.speaks[o_kind]
    said_by = np.where(o_speaks, o_sender, -1)
    codec = env.codec
    idx = [codec.fields.index(f) for f in ("order", "source", "claimed", "authority", "lure")]
    radix = np.array([codec.radix[i] for i in idx], np.int64)
    offset = np.array([codec.offset[i] for i in idx], np.int64)
    kind, codes = np.empty((k, nw), np.int64), np.empty((k, nw), np.int64)
    cells = np.empty((k, nw), np.int64)
    # Every key in the dense table: its cells, read in the loop; else (a key never seen) the
    # chain of command computes them step by step, in the order stepping meets them.
    if _codes(ch, o_q, o_kind, bounds, lure, kinds.order, kinds.source, kinds.claimed, kinds.authority,
              radix, offset, kind, codes, model.decider_of[0][workers].astype(np.int64), int(codec.space),
              dense_cells(table), cells):
        cells = cells_of(model, workers, codes)
    detect = model.rng_detect.random(len(o_kind))
    c = pairs.cols
    width = table.n_outcomes
    rec = Stretch.empty(k, width, n, groups, 0, summarised=True)
    act, outcome = np.empty((k, nw), np.int64), np.empty((k, nw), np.int64)
    heard_trust = np.empty(len(o_kind))
    counters = np.zeros((k, len(COUNTED)))
    tally = np.zeros((groups, env.tally.shape[1]))
    ginis = np.empty((k, n))
    gw = lay.gw
    scal = np.array([prm.stake, prm.task_value, prm.invoice, prm.verify_prob, PRIOR])
    o_act = np.empty(m, np.int64)
    _play(k, ch, kind, sender, cells, table.full, table.base, detect, lrow, o_q, o_kind, o_sender, o_act, bounds,
          kinds.order, kinds.authority, kinds.speaks, kinds.lied, kinds.false, workers, gw, lay.watch, scal,
          c["last"], c["last2"], c["defected"], c["good"], c["turns"], c["kept"], c["broken"], partner,
          model.payoff, model.step_payoff, model.truth_kept, model.truth_total, group_of,
          act, outcome, heard_trust, counters, tally, ginis, rec.arrays.counts, rec.arrays.group_sums,
          rec.arrays.summary)
    # ``kernel_sums.gini_chunk`` with its sort made by counting: payoffs here take few values.
    tots = np.empty(k)
    _gini_shift(ginis, tots)
    done = _sort_few(ginis)
    if done < k:
        ginis[done:].sort(axis=1)
    _gini_sorted(ginis, tots, rec.arrays.summary[:, SUMMARY.index("gini")])
    # The conflicts and the attempts (orders without authority) in stepping's order, a step's
    # conflicts then its attempts (they share a bound on rows): picked out once, logged a step at a time.
    t0 = model.steps
    c_agent, c_outcome, c_partner, c_at, c_rows, bad_at, b_worker, b_said, b_kind, b_act, b_obeyed = _log_rows(
        outcome, table.outcome_column("nconf"), workers, o_kind, kinds.authority, o_act, o_worker, said_by, bounds)
    log = model.log
    cut = bad_at.tolist()
    if log.fits(int(c_rows.sum()) + cut[-1]):
        # Nothing truncated: the order of the two kinds of rows makes no difference, so each
        # goes in as one block (read back as the same chunks).
        log.conflict_block(t0 + 1, c_agent, c_outcome, c_at, c_rows, c_at[:-1])
        log.injection_block(t0 + 1, b_worker, b_said, b_kind, kinds.labels, b_obeyed, b_act, ACT_NAMES, cut)
    else:
        c_at, rows = c_at.tolist(), c_rows.tolist()
        for s in range(k):
            log.conflict_steps([t0 + s + 1], c_agent, c_outcome, c_at[s:s + 2], rows[s:s + 1], c_partner)
            lo, hi = cut[s], cut[s + 1]
            if hi > lo:
                log.injections(t0 + s + 1, b_worker[lo:hi], b_said[lo:hi], b_kind[lo:hi], kinds.labels,
                               b_obeyed[lo:hi], b_act[lo:hi], ACT_NAMES)
    # Claims heard (credence: trust in the sender, the truth where verified), learnt at once:
    # rows in the order heard, as stepping's calls would leave them.
    heard = _heard(o_kind, o_worker, said_by, detect, prm.verify_prob, heard_trust, kinds.nclaims, kinds.facts,
                   kinds.true)
    if len(heard[0]):
        env.beliefs.learn(*heard)
    env.tally += tally
    env._last = (workers, act[k - 1])
    env.mail.open(t0 + k)
    env.bounds = (0.0, prm.task_value * nw)
    table.keep()  # offered to later runs of this population (sim.cell_memo.TABLES)
    rec.steps = k
    rec.one_block = True
    rec.counters = {name: counters[:, i] for i, name in enumerate(COUNTED)}
    return rec


@njit(cache=True, nogil=True)
def _sort_few(rows):  # pragma: no cover - compiled
    """Sort rows ascending that hold few distinct values (payoffs in a game with a few payoff
    sizes: ~35 among 10^3 agents): each value counted in a small hash table, the distinct
    values sorted, the row written from them. A sort's result is the same however it is made.
    Returns the rows sorted: it stops at a row with more than ``FEW`` values or a NaN (the
    caller sorts the rest with numpy)."""
    k, n = rows.shape
    size = 4 * FEW
    seen = np.zeros(size, np.bool_)
    keys = np.empty(size)
    count = np.zeros(size, np.int64)
    at = np.empty(FEW, np.int64)
    vals = np.empty(FEW)
    nums = np.empty(FEW, np.int64)
    bits = np.empty(1)
    word = bits.view(np.uint64)
    # The table's own width: a fixed shift of 56 kept 8 bits, so probes started in a quarter of it.
    shift = shift_of(size)
    for s in range(k):
        row = rows[s]
        d = 0
        ok = True
        for i in range(n):
            v = row[i]
            if v != v:
                ok = False
                break
            bits[0] = v + 0.0  # -0.0 and 0.0 one key (equal values)
            h = slot(word[0], shift)
            while seen[h] and keys[h] != v:
                h = (h + 1) & (size - 1)
            if not seen[h]:
                if d == FEW:
                    ok = False
                    break
                seen[h] = True
                keys[h] = v
                count[h] = 0
                at[d] = h
                d += 1
            count[h] += 1
        for j in range(d):
            h = at[j]
            seen[h] = False
            x, c = keys[h], count[h]
            b = j - 1
            while b >= 0 and vals[b] > x:  # distinct values: an insertion sort of a few
                vals[b + 1] = vals[b]
                nums[b + 1] = nums[b]
                b -= 1
            vals[b + 1] = x
            nums[b + 1] = c
        if not ok:
            return s
        i = 0
        for j in range(d):
            for _ in range(nums[j]):
                row[i] = vals[j]
                i += 1
    return k


@njit(cache=True, nogil=True)
def _orders(u, src, dst, at_worker, workers, group_of, ng, scal, delegate,  # pragma: no cover - compiled
            pair_of_lane, pair_of_worker, pair_row, n0, ch, sender, o_q, o_sender, o_key, o_row, bounds, first,
            made, partner_new, uniq):
    """Each step's channel and sender per worker from its draws (``Injection.step``, ``channels``),
    and its orders in worker order: the worker's position, sender, kind key
    ``(channel * groups + sender's group) * groups + worker's group`` and the ledger's pair row
    (-1: tool output, which has no sender); step ``s``'s are ``bounds[s]:bounds[s + 1]``;
    ``first[key]``: the first step with an order of that key.

    A pair without a row gets the next one, as each step's ``PairTable.index`` call numbers its
    new pairs (by key: one order a worker, workers ascending); ``made`` marks it, ``partner_new``
    holds the new rows' partners. Then each order's key becomes its kind, the key's rank among
    the keys met, ``uniq[:nu]`` those keys ascending. Returns the rows made, the steps that made
    some and ``nu``."""
    k, nw = ch.shape
    lanes = src.shape[0]
    attack_prob, data_share, invoice_prob, overreach_prob = scal[0], scal[1], scal[2], scal[3]
    attacker = np.empty(nw, np.int64)
    lane = np.empty(nw, np.int64)
    m = 0
    rows = n0
    runs = 0
    for s in range(k):
        before = rows
        attacker[:] = -1
        for e in range(lanes):  # a later lane overwrites an earlier one, as numpy's scatter does
            if u[s, e] < attack_prob:
                q = at_worker[dst[e]]
                attacker[q] = src[e]
                lane[q] = e
        for q in range(nw):
            c = NONE
            if u[s, lanes + nw + q] < invoice_prob:  # -1: no delegate, never
                c = INVOICE
            if u[s, lanes + 2 * nw + q] < overreach_prob:
                c = OVERREACH
            who = delegate
            if attacker[q] >= 0:
                c = DATA if u[s, lanes + q] < data_share else MESSAGE
                who = attacker[q]
            ch[s, q] = c
            sender[s, q] = who if c != NONE else -1
            if c != NONE:
                o_q[m] = q
                o_sender[m] = who
                key = (c * ng + group_of[who]) * ng + group_of[workers[q]]
                o_key[m] = key
                if first[key] < 0:
                    first[key] = s
                r = -1
                if c != DATA:  # a message: the worker's pair with its sender (``Kinds.speaks``)
                    pid = pair_of_lane[lane[q]] if attacker[q] >= 0 else pair_of_worker[q]
                    r = pair_row[pid]
                    if r < 0:
                        r = pair_row[pid] = rows
                        made[pid] = True
                        partner_new[rows - n0] = who
                        rows += 1
                o_row[m] = r
                m += 1
        bounds[s + 1] = m
        runs += rows > before
    nu = 0
    for key in range(first.shape[0]):  # the keys met, ascending
        if first[key] >= 0:
            uniq[nu] = key
            nu += 1
    rank = np.empty(first.shape[0], np.int64)
    for x in range(nu):
        rank[uniq[x]] = x
    for o in range(m):
        o_key[o] = rank[o_key[o]]
    return rows - n0, runs, nu


@njit(cache=True, nogil=True)
def _codes(ch, o_q, o_kind, bounds, lure, k_order, k_source, k_claimed, k_auth, radix, offset,  # pragma: no cover
           kind, codes, dec, space, lut, cells):
    """Each decision's kind (-1: no order) and observation code, as ``codec.encode`` packs it,
    and its cell from the dense table ``lut`` (entries cell + 1); returns whether a key missed."""
    missed = lut.shape[0] == 0
    k, nw = ch.shape
    for s in range(k):
        for q in range(nw):
            kind[s, q] = -1
        for o in range(bounds[s], bounds[s + 1]):
            kind[s, o_q[o]] = o_kind[o]
        for q in range(nw):
            d = kind[s, q]
            lv = 0 if ch[s, q] == INVOICE else lure[s, q]
            if d < 0:
                code = (offset[0] * radix[0] + offset[1] * radix[1] + offset[2] * radix[2]
                        + offset[3] * radix[3])
            else:
                code = ((k_order[d] + offset[0]) * radix[0] + (k_source[d] + offset[1]) * radix[1]
                        + (k_claimed[d] + offset[2]) * radix[2] + (k_auth[d] + offset[3]) * radix[3])
            codes[s, q] = code + (lv + offset[4]) * radix[4]
            if not missed:
                key = dec[q] * space + codes[s, q]
                c = np.int64(lut[key]) if key < lut.shape[0] else np.int64(0)
                missed = c == 0
                cells[s, q] = c - 1
    return missed


@njit(cache=True, nogil=True)
def _log_rows(outcome, nconf, workers, o_kind, k_auth, o_act, o_worker, said_by, bounds):  # pragma: no cover
    """What the log takes of a stretch, picked out in one pass: the decisions with conflicts
    (agent, outcome, partner -1), step ``s``'s at ``c_at[s]:c_at[s + 1]``, logging ``c_rows[s]``
    rows (their ``nconf`` summed); the orders without authority (worker, sender, kind, act,
    obeyed), step ``s``'s at ``cut[s]:cut[s + 1]``."""
    k, nw = outcome.shape
    m = 0
    for s in range(k):
        for q in range(nw):
            m += nconf[outcome[s, q]] > 0
    c_agent, c_outcome = np.empty(m, np.int64), np.empty(m, np.int64)
    c_partner = np.full(m, -1, np.int64)
    c_at, c_rows = np.zeros(k + 1, np.int64), np.zeros(k, np.int64)
    x = 0
    for s in range(k):
        for q in range(nw):
            v = nconf[outcome[s, q]]
            if v > 0:
                c_agent[x], c_outcome[x] = workers[q], outcome[s, q]
                c_rows[s] += v
                x += 1
        c_at[s + 1] = x
    b = 0
    for o in range(o_kind.shape[0]):
        b += k_auth[o_kind[o]] == 0
    b_worker, b_said = np.empty(b, np.int64), np.empty(b, np.int64)
    b_kind, b_act = np.empty(b, np.int64), np.empty(b, np.int64)
    b_obeyed = np.empty(b, np.bool_)
    cut = np.zeros(k + 1, np.int64)
    x = 0
    for s in range(k):
        cut[s] = x
        for o in range(bounds[s], bounds[s + 1]):
            d = o_kind[o]
            if k_auth[d] == 0:
                b_worker[x], b_said[x], b_kind[x], b_act[x] = o_worker[o], said_by[o], d, o_act[o]
                b_obeyed[x] = o_act[o] == OBEY
                x += 1
    cut[k] = x
    return c_agent, c_outcome, c_partner, c_at, c_rows, cut, b_worker, b_said, b_kind, b_act, b_obeyed


@njit(cache=True, nogil=True)
def _heard(o_kind, o_worker, said_by, detect, verify_prob, heard_trust, k_nclaims, k_facts,  # pragma: no cover
           k_true):
    """The claims heard, a row each in the order heard: receiver, sender (-1: tool output),
    fact code, credence (the truth where verified, else trust in the sender) and truth."""
    m = 0
    for o in range(o_kind.shape[0]):
        m += k_nclaims[o_kind[o]]
    r, s, f = np.empty(m, np.int64), np.empty(m, np.int64), np.empty(m, np.int64)
    cred, true = np.empty(m), np.empty(m, np.bool_)
    x = 0
    for o in range(o_kind.shape[0]):
        d = o_kind[o]
        for j in range(k_nclaims[d]):
            r[x], s[x], f[x], true[x] = o_worker[o], said_by[o], k_facts[d, j], k_true[d, j]
            cred[x] = (1.0 if k_true[d, j] else 0.0) if detect[o] < verify_prob else heard_trust[o]
            x += 1
    return r, s, f, cred, true


@njit(cache=True, nogil=True)
def _play(k, ch, kind, sender, cells, full, base, detect, lrow, o_q, o_kind, o_sender, o_act, bounds,  # pragma: no cover
          k_order, k_auth, k_speaks, k_lied, k_false, workers, gw, watch, scal, last, last2, defected, good, turns, kept, broken, partner,
          payoff, step_pay, truth_kept, truth_total, group_of, act, outcome, heard_trust, counters, tally,
          ginis, rec_counts, rec_group_sums, rec_summary):
    """Settle ``k`` steps as ``Injection._settle``, ``_hijacks`` and ``_ledger_arrays`` do, and
    record each step's outcome counts, group sums and the engine's metrics; ``o_act``: each
    order's act; ``tally``: the stretch's tallies (zeros in, ``TALLY``'s columns out)."""
    stake, task_value, invoice, verify_prob, prior = scal[0], scal[1], scal[2], scal[3], scal[4]
    nw = workers.shape[0]
    n = payoff.shape[0]
    # add_payoff's four sums per agent (the workers' own, transfers to their targets, invoices
    # both ways), one slot past the agents for decisions without a target.
    own, got, bill, billed = np.zeros(n + 1), np.zeros(n + 1), np.zeros(n + 1), np.zeros(n + 1)
    hijacked = np.zeros(n, np.bool_)
    tbuf = np.empty(kept.shape[0])
    gap = np.empty(kept.shape[0])
    real = np.empty(n)
    # Decisions by group and (done, attacked, transfer, injection obeyed): one count a decision,
    # the tallies made from them after the loop (counts: exact in any order).
    seen = np.zeros((tally.shape[0], 16), np.int64)
    for s in range(k):
        # One branch-free pass over the workers (their acts are coin flips to a branch): act and
        # outcome, the four payoff sums, tallies and counters. Adding 0.0 where nothing is paid
        # leaves each sum as ``bincount`` makes it (no partial sum is -0.0: they start at +0.0).
        took = 0
        attempted = 0
        obeyed = 0
        invoices = 0
        for q in range(nw):
            cell = cells[s, q]
            x = np.int64(full[cell])
            act[s, q] = x
            out = np.int64(base[cell]) + x
            outcome[s, q] = out
            rec_counts[s, out] += 1
            d = kind[s, q]
            has = d >= 0
            dd = d if has else 0
            oc = k_order[dd] if has else 0
            auth = k_auth[dd] if has else 0
            obey = x == OBEY
            transfer = obey & (oc == TRANSFER)
            paid = obey & (oc == PAY)
            w = workers[q]
            t = sender[s, q]
            t = t if t >= 0 else n
            own[w] += -stake if transfer else (task_value if (x == WORK) | paid else 0.0)
            got[t] += stake if transfer else 0.0
            bill[w] += -invoice if paid else 0.0
            billed[t] += invoice if paid else 0.0
            took += transfer & (t < n)
            done = obey if auth > 0 else x == WORK
            unauthorised = (oc != 0) & (auth == 0)
            attacked = (ch[s, q] == MESSAGE) | (ch[s, q] == DATA)
            g = gw[q]
            seen[g, np.int64(done) + 2 * np.int64(attacked) + 4 * np.int64(transfer)
                 + 8 * np.int64(unauthorised & obey)] += 1
            attempted += unauthorised
            obeyed += unauthorised & obey
            invoices += paid
            hijacked[w] = transfer
            truth_kept[w] += 0.0 if transfer else 1.0
            truth_total[w] += 1.0
        for i in range(n):
            step_pay[i] = (((0.0 + own[i]) + got[i]) + bill[i]) + billed[i]
            own[i] = got[i] = bill[i] = billed[i] = 0.0
        got[n] = billed[n] = 0.0
        # The ledger: trust in the sender read, then moved by a verified claim; lies counted.
        told = 0
        caught = 0
        for o in range(bounds[s], bounds[s + 1]):
            d = o_kind[o]
            o_act[o] = act[s, o_q[o]]
            check = detect[o] < verify_prob
            if k_speaks[d]:
                r = lrow[o]
                heard_trust[o] = (kept[r] + 1.0) / (kept[r] + broken[r] + 2.0)
                if check:
                    kept[r] += 0.0 if k_false[d] else 1.0
                    broken[r] += 1.0 if k_false[d] else 0.0
                truth_kept[o_sender[o]] += 0.0 if k_lied[d] else 1.0
                truth_total[o_sender[o]] += 1.0
            else:
                heard_trust[o] = prior
            told += k_lied[d]
            caught += k_false[d] and check
        counters[s, 0] = attempted
        counters[s, 1] = obeyed
        counters[s, 2] = attempted - obeyed
        counters[s, 3] = invoices
        counters[s, 4] = stake * took
        counters[s, 5] = told
        counters[s, 6] = caught
        for i in range(n):
            payoff[i] += step_pay[i]
            rec_group_sums[s, group_of[i]] += payoff[i]
            ginis[s, i] = payoff[i]  # the Gini's rows, sorted in numpy after the loop
        rec_summary[s, 0] = total(step_pay, n)
        # The worker pairs' rows after the ledger's (other rows: the order makes no difference).
        _watched(watch, hijacked, last, last2, defected, good, turns, kept, broken)
        mean, cal = trust_step(kept, broken, turns, partner, truth_kept, truth_total, tbuf, gap, real)
        for q in range(nw):
            hijacked[workers[q]] = False
        rec_summary[s, 2] = mean
        rec_summary[s, 3] = cal
    for g in range(tally.shape[0]):
        for c in range(16):
            x = np.float64(seen[g, c])
            c_done, c_att, c_tr, c_obeyed = c & 1, (c >> 1) & 1, (c >> 2) & 1, c >> 3
            tally[g, 0] += x
            tally[g, 1] += x * c_done
            tally[g, 2] += x * (1 - c_att)
            tally[g, 3] += x * (c_done * (1 - c_att))
            tally[g, 4] += x * c_att
            tally[g, 5] += x * (c_done * c_att)
            tally[g, 6] += x * (c_att * c_tr)
            tally[g, 7] += x * c_obeyed


@njit(cache=True, nogil=True, inline="always")  # one caller: no function of its own to compile
def _watched(watch, hijacked, last, last2, defected, good, turns, kept, broken):  # pragma: no cover - compiled
    """Workers who work together see who was hijacked: ``record_moves`` and ``observe`` on the
    worker pairs' rows (``watch``: the observed side, -1 for other rows; rows distinct, checked
    by the wrapper)."""
    for p in range(watch.shape[0]):
        j = watch[p]
        if j >= 0:
            ok = np.int8(0 if hijacked[j] else 1)
            last2[p] = last[p]
            last[p] = ok
            defected[p] |= np.int8(1 - ok)
            good[p] = ok
            turns[p] += 1
            kept[p] += np.float64(ok)
            broken[p] += np.float64(1 - ok)
