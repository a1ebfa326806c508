"""The tooth-fairy stretch in two compiled passes, the decisions looked up between them.

Why: played in numpy (``scenarios.tooth_fairy_stretch``) a stretch is still
some sixty calls over (K, 2E) arrays and a booking that computes trust, Gini
and welfare from per-agent and per-pair records; a plain Mesa model's step
is one Python loop over the questions. Here the first pass computes every
step's observation codes (the priors follow the reactions drawn, not the
acts), the decision table gives each step's cells in Python (the chain of
command, keys never seen resolved in the order stepping meets them), and
the second pass settles the steps and computes the engine's metrics per step
(``scenarios.kernel_sums``: numpy's summation order), so the engine books a
summarised stretch.

Mirrored operation for operation (``tests/test_tooth_fairy_stretch.py`` runs
it against stepping): the posterior and its bucket, payoffs added per
question in order (``bincount``), pair memory and Beta evidence per row (the
rows are distinct: the check is made here, else the numpy stretch plays),
the bounds as numpy's pairwise sums.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from agents.jit import njit
from scenarios.kernel_sums import gini_chunk, total, trust_step
from scenarios.pairwise import cells_of, dense_cells
from scenarios.stretch import SUMMARY, Stretch
from scenarios.tooth_fairy_rules import BLUNT, LIE

if TYPE_CHECKING:
    from scenarios.tooth_fairy import ToothFairy

#: Bits of a question's flags (first pass -> second pass).
CHILD, SENSITIVE, PRESSED, DILEMMA = 1, 2, 4, 8
class Logged(NamedTuple):
    """Decisions whose outcome logs conflicts: step ``s``'s are ``at[s]:at[s + 1]``, ``rows[s]`` event rows."""

    agent: np.ndarray
    partner: np.ndarray
    outcome: np.ndarray
    at: np.ndarray
    rows: np.ndarray


#: Columns of the counters, in the order ``ToothFairy.step`` counts them.
COUNTERS = ("lies", "spoiled", "dilemmas")


def play(env: ToothFairy, model: Any, k: int, draws: np.ndarray, detect: np.ndarray, agent: np.ndarray,
         asker: np.ndarray, rows: np.ndarray) -> Stretch | None:
    """Play the ``k`` steps whose draws are given; None (nothing changed) when pair rows repeat."""
    pairs = model.pairs
    if not rows_distinct(env, model, rows):
        return None
    prm = env.params
    table = model.decisions
    codec = env.codec
    radix, offset, scal, values, ends = env.kernel_constants()
    m, n, groups = len(agent), len(model.payoff), len(model.groups)
    codes, flags = np.empty((k, m), np.int64), np.empty((k, m), np.int8)
    env.revealed, env.children = env.revealed.copy(), env.children.copy()  # written by the pass
    cells = np.empty((k, m), np.int64)
    # Every key in the dense table (a table an earlier run kept): its cells, read in the pass;
    # else the chain of command gives them step by step, in the order stepping meets them.
    if _observe(k, draws, agent, env.revealed, env.children, scal, radix, offset, codes, flags,
                model.decider_of[0], np.int64(codec.space), dense_cells(table), cells):
        cells = cells_of(model, agent, codes)
    width = table.n_outcomes
    rec = Stretch.empty(k, width, n, groups, 0, summarised=True)
    bounds, counters = np.empty((k, 2)), np.empty((k, len(COUNTERS)))
    c = pairs.cols
    if len(pairs) == m:  # the rows are the questions' pairs, each once: row (asker, agent) trusts agent
        partner = np.empty(m, np.int64)
        partner[rows] = agent
    else:
        partner = pairs.pairs()[1]
    ginis = np.empty((k, n))
    logged = Logged(np.empty(k * m, np.int64), np.empty(k * m, np.int64), np.empty(k * m, np.int64),
                    np.zeros(k + 1, np.int64), np.zeros(k, np.int64))
    arrays = rec.arrays
    _settle(k, cells, table.full, table.base, table.outcome_column("nconf"), *logged, asker, flags, detect,
            float(prm.detect_prob), agent, rows, values, ends, np.int64(LIE), np.int64(BLUNT),
            c["last"], c["last2"], c["defected"], c["good"], c["turns"], c["kept"], c["broken"],
            partner, model.payoff, model.step_payoff, model.truth_kept, model.truth_total,
            model.group_of.astype(np.int64), ginis, arrays.counts, arrays.group_sums, arrays.summary, bounds,
            counters)
    gini_chunk(ginis, np.empty(k), rec.arrays.summary[:, SUMMARY.index("gini")])
    env.bounds = (float(bounds[k - 1, 0]), float(bounds[k - 1, 1]))
    if logged.at[k]:  # as ``SpecModel.decide`` logs each step's decisions with conflicts
        t0 = model.steps
        hi = int(logged.at[k])
        model.log.conflict_steps(list(range(t0 + 1, t0 + 1 + k)), logged.agent[:hi].copy(),
                                 logged.outcome[:hi].copy(), logged.at.tolist(), logged.rows.tolist(),
                                 logged.partner[:hi].copy())
    table.keep()  # offered to later runs of this population (sim.cell_memo.TABLES)
    rec.steps = k
    rec.bounds = bounds
    rec.counters = {name: counters[:, i] for i, name in enumerate(COUNTERS)}
    rec.one_block = True  # summarised: counts, summary, group sums, counters and bounds are all it books
    return rec


def rows_distinct(env: ToothFairy, model: Any, rows: np.ndarray) -> bool:
    """Whether no pair row of the questions repeats; the rows are kept while the graph and the
    pair layout stand (``ToothFairy._pair_rows``), and so is the answer: checked once per rows
    array (at build, in a process that has loaded this module)."""
    seen = env.kernel_rows
    if seen is None or seen[0] is not rows or seen[1] != len(model.pairs):
        seen = env.kernel_rows = (rows, len(model.pairs), _distinct(rows, len(model.pairs)))
    return seen[2]


def _distinct(rows: np.ndarray, size: int) -> bool:
    """Whether no pair row repeats (then writing them one by one is numpy's fancy-index write).
    In numpy: it runs once per rows array, and a compiled pass cost a cold cache ~0.1 s."""
    seen = np.zeros(size, np.bool_)
    seen[rows] = True
    return int(np.count_nonzero(seen)) == len(rows)


@njit(cache=True, nogil=True)
def _observe(k, draws, agent, revealed, children, scal, radix, offset, codes, flags, decider, space, lut,
             cells):  # pragma: no cover - compiled
    """Every step's codes and flags, the reactions seen added after each step (``ToothFairy.step``),
    and each key's cell from the dense table ``lut`` (entries cell + 1); returns whether a key
    missed (then ``cells`` is not complete)."""
    missed = lut.shape[0] == 0
    child_share, accuracy, sensitive_prob, press_prob, reveal_prob, prior0, w = (
        scal[0], scal[1], scal[2], scal[3], scal[4], scal[5], scal[6])
    base = prior0 * w
    m = agent.shape[0]
    # Branch-free: the draws' comparisons are coin flips, which a branch mispredicts half the time.
    miss = 1.0 - accuracy  # a cue's likelihood for a child where it points away from one
    n = revealed.shape[0]
    # An agent's posterior takes two values a step (the cue points to a child or not): its belief
    # bucket for each, computed per agent (the same expressions), looked up per question.
    bucket = np.empty((n, 2), np.int64)
    for s in range(k):
        d = draws[s]
        for a in range(n):
            prior = (base + children[a]) / max(w + revealed[a], 1e-12)
            for cue_child in range(2):
                num = prior * (accuracy if cue_child else miss)
                den = num + (1.0 - prior) * (miss if cue_child else accuracy)
                p = num / den if den > 0 else 0.0
                bucket[a, cue_child] = min(np.int64(p * 5), 4)
        for i in range(m):
            child = np.int64(d[0, i] < child_share)
            cue_child = child ^ np.int64(d[1, i] >= accuracy)
            sensitive = np.int64(d[2, i] < sensitive_prob)
            pressed = sensitive & np.int64(d[3, i] < press_prob)
            belief = bucket[agent[i], cue_child]
            code = ((sensitive + offset[0]) * radix[0] + (belief + offset[1]) * radix[1]
                    + (pressed + offset[2]) * radix[2])
            codes[s, i] = code
            if not missed:
                key = np.int64(decider[agent[i]]) * space + code
                c = np.int64(lut[key]) if key < lut.shape[0] else np.int64(0)
                missed = c == 0
                cells[s, i] = c - 1
            flags[s, i] = (child * CHILD) | (sensitive * SENSITIVE) | (pressed * PRESSED) \
                | (pressed * np.int64(belief >= 2) * DILEMMA)
        for i in range(m):  # after the step: its reactions feed the next step's priors
            seen = np.float64(d[4, i] < reveal_prob)
            revealed[agent[i]] += seen
            children[agent[i]] += seen * np.float64(d[0, i] < child_share)
    return missed


@njit(cache=True, nogil=True)
def _settle(k, cells, full, base, nconf, log_agent, log_partner, log_outcome, log_at, log_rows,  # pragma: no cover
            asker, flags, detect, detect_prob, agent, rows, values, ends, lie, blunt, last, last2, defected, good,
            turns, kept, broken, partner, payoff, step_pay, truth_kept, truth_total, group_of, ginis, rec_counts,
            rec_group_sums, rec_summary, bounds, counters):
    """Settle ``k`` steps: payoffs, pair memory and evidence, truth, counters, the bounds, and per
    step the outcome counts, group sums and the engine's metrics (welfare, Gini, trust)."""
    m = agent.shape[0]
    n = payoff.shape[0]
    base_buf = np.empty(m)
    best_buf = np.empty(m)
    tbuf = np.empty(kept.shape[0])
    gap = np.empty(kept.shape[0])
    real = np.empty(n)
    c = 0
    for s in range(k):
        for i in range(n):
            step_pay[i] = 0.0
        lies = 0
        spoiled = 0
        dilemmas = 0
        for i in range(m):  # branch-free, as in ``_observe``
            f = flags[s, i]
            a = agent[i]
            cell = cells[s, i]
            x = np.int64(full[cell])
            out = np.int64(base[cell]) + x
            if nconf[out] > 0:  # a conflict to log, in question order (``EventLog.conflicts``)
                log_agent[c] = a
                log_partner[c] = asker[i]
                log_outcome[c] = out
                log_rows[s] += nconf[out]
                c += 1
            at_stake = (f & CHILD) * (f & SENSITIVE) != 0
            pressed = np.int64((f & PRESSED) != 0)
            row = np.int64(at_stake) * (1 + pressed)
            step_pay[a] += values[row, x]
            base_buf[i] = ends[row, 0]
            best_buf[i] = ends[row, 1]
            lied = np.int64(x == lie)
            spoil = np.int64(at_stake) & (np.int64(x == blunt) | (pressed & (1 - lied)))
            bad = spoil | (lied & np.int64(detect[s, i] < detect_prob))
            r = rows[i]
            last2[r] = last[r]
            last[r] = 1 - bad
            defected[r] |= bad
            good[r] = 1 - bad
            turns[r] += 1
            kept[r] += np.float64(1 - bad)
            broken[r] += np.float64(bad)
            truth_kept[a] += np.float64(1 - lied)
            truth_total[a] += 1.0
            lies += lied
            spoiled += spoil
            dilemmas += (f & DILEMMA) != 0
            rec_counts[s, out] += 1
        log_at[s + 1] = c
        for i in range(n):
            payoff[i] += step_pay[i]
            rec_group_sums[s, group_of[i]] += payoff[i]
        bounds[s, 0] = total(base_buf, m)
        bounds[s, 1] = total(best_buf, m)
        counters[s, 0] = lies
        counters[s, 1] = spoiled
        counters[s, 2] = dilemmas
        rec_summary[s, 0] = total(step_pay, n)
        for i in range(n):  # the Gini's rows, sorted in numpy after the loop (``gini_chunk``)
            ginis[s, i] = payoff[i]
        mean, cal = trust_step(kept, broken, turns, partner, truth_kept, truth_total, tbuf, gap, real)
        rec_summary[s, 2] = mean
        rec_summary[s, 3] = cal
