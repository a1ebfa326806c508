"""Fused steps: stretches of plain prisoner's-dilemma steps played in one compiled loop.

Why: a generic step is about a hundred numpy calls whatever the population,
so at a dozen agents that fixed cost, not the game, is the run time (the
12-strategy round robin was no faster than axelrod). Most IPD steps change
nothing but pair memory, payoffs and counters: no script event is due, the
graph is fixed, nothing is random, every (decider, observation) key already
has its cell and no decision logs a conflict. Such a stretch is played here
by one numba loop, and the per-step metrics of the whole stretch are then
computed with array operations over a leading step axis.

The loop decides every interaction of a step before it changes anything; at
the first step that needs the generic path (a key never seen, a conflict to
log) it stops, and the model plays that step the generic way and carries on.
Results are bit-identical to stepping one at a time: the same floating-point
operations in the same order (bincount's order for per-agent sums, numpy's
row reductions for the rest). ``tests/test_fused.py`` runs both paths.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from agents.policies import TRUST_BUCKETS
from scenarios.environment import Environment, ObsCodec
from scenarios.ipd import IPD, needs_coin, observe_pairs, swapped_rows
from sim import metrics as M
from sim import model as engine

if TYPE_CHECKING:
    from sim.model import SpecModel

#: Bytes of per-step records a stretch may hold; longer runs are played in several stretches.
RECORD_BUDGET = 64 << 20
#: Outcomes that new keys may add before a stretch must end (its count records have that width).
OUTCOME_HEADROOM = 256
#: Why ``_play`` stopped early: a key without a cell, or a decision that logs a conflict.
MISSING, CONFLICT = 1, 2


def eligible(model: SpecModel) -> bool:
    """Whether the model's steps can be fused at all (checked again at each stretch)."""
    env = model.env
    prm = env.params
    net = model.spec_scenario.network
    rewire = net.get("rewire") if env.pairwise else None
    return (
        type(env) is IPD
        and type(env).metrics is Environment.metrics
        and prm.noise == 0
        and not prm.promises
        and len(model.phases) == 1
        and not model._llm
        and not model._any_fast
        and not model._any_error
        and not needs_coin(model)
        # Rewiring that can never cut (trust is never below 0) changes nothing.
        and (not rewire or float(rewire.get("below", 0.3)) <= 0.0)
        and not any(ev.when is not None for ev in model.spec_scenario.events)
        and bool(model.alive.all())
    )


def stretch_limit(model: SpecModel, limit: int) -> int:
    """How many of the next ``limit`` steps have no script event due."""
    upcoming = [ev.at for ev in model.spec_scenario.events
                if ev.at is not None and ev.at > model.t and not (ev.once and ev.index in model._fired)]
    if upcoming:
        limit = min(limit, min(upcoming) - model.t - 1)
    return max(0, limit)


@dataclasses.dataclass
class _Record:
    """Per-step state the metrics read, for the steps of one stretch (leading axis: step)."""

    counts: np.ndarray       # (K, outcomes) outcome counts
    step_pay: np.ndarray     # (K, n) payoff earned in the step
    payoff: np.ndarray       # (K, n) cumulative payoff after the step
    group_sums: np.ndarray   # (K, groups) cumulative payoff per group, summed in agent order
    trust: np.ndarray        # (K, pair rows) trust after the step
    met: np.ndarray          # (K, pair rows) the pair has played
    truth_kept: np.ndarray   # (K, n)
    truth_total: np.ndarray  # (K, n)

    @classmethod
    def empty(cls, k: int, outcomes: int, n: int, groups: int, rows: int) -> _Record:
        return cls(np.zeros((k, outcomes), np.int64), np.zeros((k, n)), np.zeros((k, n)),
                   np.zeros((k, groups)), np.zeros((k, rows)), np.zeros((k, rows), np.bool_),
                   np.zeros((k, n)), np.zeros((k, n)))


def advance(model: SpecModel, limit: int) -> int:
    """Play up to ``limit`` steps fused; returns how many were played (0: take a generic step)."""
    k = stretch_limit(model, limit)
    if k == 0 or not len(model.edges) or not eligible(model):
        return 0
    edges = model.edges
    e = len(edges)
    model.pairs.align(model.graph_version, edges[:, 0], edges[:, 1])
    agents, _ = model.edge_agents()
    dec = model.decider_of[0][agents]
    need = len(model._deciders) * model.env.codec.space
    if need > engine.DENSE_TABLE_LIMIT:
        return 0  # too many deciders for a dense table: cells live in a dict the loop cannot read
    lut = model._luts[0]
    if lut is None or len(lut) < need:
        _fill(model, e, dec)  # a run's first step, or deciders added by an event: grow the table
    n, rows = len(model.payoff), len(model.pairs)
    # Room for outcomes that keys first seen during the stretch may add.
    width = len(model._outcomes) + OUTCOME_HEADROOM
    per_step = 8 * (width + 5 * n + 2 * rows + len(model.groups))
    k = max(1, min(k, RECORD_BUDGET // per_step))
    rec = _Record.empty(k, width, n, len(model.groups), rows)
    done, why = 0, np.zeros(1, np.int64)
    keep = fields_kept(model)
    while done < k:
        done = _play_from(model, rec, done, k, e, agents, dec, keep, why)
        if why[0] != MISSING:
            break
        keep = _fill(model, e, dec)
        if len(model._outcomes) > width:
            break
    if done:
        _absorb(model, rec, done, e)
    return done


def _fill(model: SpecModel, e: int, dec: np.ndarray) -> np.ndarray:
    """Give this step's keys never seen their cells the generic way; returns ``fields_kept`` after.

    The loop looks keys up projected on the fields read, so the projected keys get cells too.
    """
    codes = observe_pairs(model, model.env.codec, slice(0, 2 * e), swapped_rows(e), 0)
    model._cells_for(0, dec, codes)
    keep = fields_kept(model)
    model._cells_for(0, dec, project(model.env.codec, codes, keep[dec]))
    return keep


def fields_kept(model: SpecModel) -> np.ndarray:
    """(deciders, fields) 1 where some decision of the decider read the field, else 0.

    Cells are shared between codes that agree on what the decision read (the
    read-set memo in ``sim/model.py``), so the loop looks a key up with every
    field no decision of its decider ever read set to 0: the cell of that
    projected code is the cell of the code itself, and far fewer keys are
    ever missing. Without the memo every field counts.
    """
    fields = len(model.env.codec.fields)
    if not model._memo_reads:
        return np.ones((len(model._deciders), fields), np.int64)
    keep = np.zeros((len(model._deciders), fields), np.int64)
    for d, sets in model._read_sets.items():
        for rs in sets:
            keep[d, list(rs.index)] = 1
    return keep


def project(codec: ObsCodec, codes: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``codes`` with the digits of fields not kept (``keep``: one row per code) set to 0."""
    out = np.zeros_like(codes)
    for f, (r, c) in enumerate(zip(codec.radix, codec.card, strict=True)):
        out += (codes // r % c) * r * keep[:, f]
    return out


def _play_from(model: SpecModel, rec: _Record, start: int, k: int, e: int, agents: np.ndarray,
               dec: np.ndarray, keep: np.ndarray, why: np.ndarray) -> int:
    prm = model.env.params
    cols = model.pairs.cols
    codec = model.env.codec
    return int(_play(
        start, k, e, agents, dec, keep, codec.space,
        np.asarray(codec.radix, np.int64), np.asarray(codec.offset, np.int64), TRUST_BUCKETS,
        model._luts[0], model._cells.arr["full"], model._cells.arr["base"], model._outcomes.arr["nconf"],
        model.env._coop.astype(np.int8), float(prm.R), float(prm.S), float(prm.T), float(prm.P),
        float(prm.lie_penalty),
        cols["last"], cols["last2"], cols["defected"], cols["good"], cols["turns"],
        cols["kept"], cols["broken"],
        model.payoff, model.step_payoff, model.truth_kept, model.truth_total,
        model.group_of.astype(np.int64),
        rec.counts, rec.step_pay, rec.payoff, rec.group_sums, rec.trust, rec.met,
        rec.truth_kept, rec.truth_total, why,
    ))


def _absorb(model: SpecModel, rec: _Record, k: int, e: int) -> None:
    """Book ``k`` fused steps: series, totals and the model's step state, as ``_collect`` would."""
    model.env.bounds = model.env.welfare_bounds(e)
    model.env.step_counts = {}
    model._step_outcomes = []
    # Outcomes added after the last recorded step (keys filled for a step left to the
    # generic path) were never counted: zeros.
    width = min(rec.counts.shape[1], len(model._outcomes))
    counts = np.zeros((k, len(model._outcomes)))
    counts[:, :width] = rec.counts[:k, :width]
    dec = M.decision_sums(model, counts)
    applied, held = _compliance_columns(model, counts)
    cols, order = _metric_columns(model, rec, k, dec, applied, held)
    _extend_series(model, cols, order, k)
    _add_totals(model, dec, applied, held, counts, cols["welfare"])
    last = {name: float(cols[name][-1]) for name in order if cols[name][-1] == cols[name][-1]
            or not name.startswith("compliance.")}
    model.last_metrics = last
    model.t += k


def _compliance_columns(model: SpecModel, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``metrics.compliance_counts`` per step: (K, principles) applied and held."""
    c = model._comp.arrays()
    k = len(model.principle_ids)
    applied = np.zeros((len(counts), k))
    held = np.zeros((len(counts), k))
    for p in range(k):
        sel = c["principle"] == p
        w = counts[:, c["outcome"][sel]]
        applied[:, p] = w.sum(axis=1)
        held[:, p] = (w * c["held"][sel]).sum(axis=1)
    return applied, held


def _metric_columns(model: SpecModel, rec: _Record, k: int, dec: dict[str, np.ndarray],
                    applied: np.ndarray, held: np.ndarray) -> tuple[dict[str, np.ndarray], list[str]]:
    """``metrics.step_metrics`` as columns over the stretch; NaN where a step has no such metric."""
    nan = np.full(k, np.nan)
    cols: dict[str, np.ndarray] = {name: dec[name] for name in
                                   ("conflicts", "violations", "deceptions", "covert_acts")}
    with np.errstate(divide="ignore", invalid="ignore"):
        cols["cooperation_rate"] = np.where(dec["moves"] > 0, dec["cooperative_moves"] / dec["moves"], nan)
        a_sum, h_sum = applied.sum(axis=1), held.sum(axis=1)
        cols["compliance_rate"] = np.where(a_sum > 0, h_sum / a_sum, nan)
        for p in np.flatnonzero(applied.any(axis=0)):
            cols[f"compliance.{model.principle_ids[p]}"] = np.where(
                applied[:, p] > 0, held[:, p] / applied[:, p], nan)
    welfare = np.ascontiguousarray(rec.step_pay[:k]).sum(axis=1)
    cols["welfare"] = welfare
    base, opt = model.env.bounds
    span = opt - base
    cols["efficiency"] = (welfare - base) / span if span > 0 else nan
    cols["gini"] = M.gini_rows(np.ascontiguousarray(rec.payoff[:k]))
    cols["trust_mean"], cols["trust_calibration"] = _trust_columns(model, rec, k)
    cols["injections_attempted"] = np.zeros(k)
    cols["injections_obeyed"] = dec["served_injection"]
    cols["alive"] = np.full(k, float(model.alive.sum()))
    # Group sums come from the loop, accumulated in agent order as bincount does.
    cols.update(M.group_payoffs(model, np.ascontiguousarray(rec.group_sums[:k])))
    return cols, list(cols)


def _trust_columns(model: SpecModel, rec: _Record, k: int) -> tuple[np.ndarray, np.ndarray]:
    trust = np.ascontiguousarray(rec.trust[:k])
    j = model.pairs.pairs()[1]
    tk, tt = rec.truth_kept[:k], rec.truth_total[:k]
    total = tt[:, j]
    fast = rec.met[:k].all(axis=1) & (total > 0).all(axis=1)
    mean = trust.mean(axis=1)
    # Row reductions round as a 1-D reduction of the same row only on C-contiguous rows.
    gap = np.ascontiguousarray(np.abs(trust - tk[:, j] / np.where(total > 0, total, 1.0)))
    cal = 1.0 - gap.mean(axis=1)
    # Steps where some pair has not met (or some partner has no record) take the masked path.
    for s in np.flatnonzero(~fast).tolist():
        mean[s], cal[s] = M.trust_of_rows(trust[s], j, rec.met[s], tk[s], tt[s])
    return mean, cal


def _extend_series(model: SpecModel, cols: dict[str, np.ndarray], order: list[str], k: int) -> None:
    """Append the stretch to ``model.series`` in the order step-by-step collection would."""
    t0 = model.t
    # A metric absent so far joins the series at the first step that has it, after those
    # already there. Only per-principle compliance is ever absent (NaN) at some steps.
    new = [name for name in order if name not in model.series]

    def first(name: str) -> int:
        return int(np.argmax(~np.isnan(cols[name]))) if name.startswith("compliance.") else 0

    for name in sorted(new, key=lambda nm: (first(nm), order.index(nm))):
        model.series[name] = [float("nan")] * t0
    for name, col in model.series.items():
        col.extend(cols[name].tolist() if name in cols else [float("nan")] * k)


def _add_totals(model: SpecModel, dec: dict[str, np.ndarray], applied: np.ndarray, held: np.ndarray,
                counts: np.ndarray, welfare: np.ndarray) -> None:
    """``Totals.add`` for every step of the stretch, float sums kept in step order."""
    tot = model.totals
    for name in ("conflicts", "violations", "deceptions", "covert_acts", "decisions",
                 "cooperative_moves", "moves"):
        tot.counted[name] = tot.counted.get(name, 0.0) + float(dec[name].sum())
    tot.counted["injections_attempted"] = tot.counted.get("injections_attempted", 0.0)
    tot.counted["injections_obeyed"] = tot.counted.get("injections_obeyed", 0.0) + float(
        dec["served_injection"].sum())
    tot.applied = M._add(tot.applied, applied.sum(axis=0))
    tot.held = M._add(tot.held, held.sum(axis=0))
    tot.levels = tot.levels + M.level_pairs(model, counts.sum(axis=0))
    tot.outcomes = M._add(tot.outcomes, counts.sum(axis=0))
    b, o = model.env.bounds
    for w in welfare.tolist():
        tot.welfare += w
        tot.baseline += b
        tot.optimum += o


@njit(cache=True, nogil=True)
def _play(k0, k_max, e, agents, dec, keep, space, radix, offset, buckets, lut, full, base, nconf, coop_of,
          R, S, T, P, lie, last, last2, defected, good, turns, kept, broken,
          payoff, step_pay, truth_kept, truth_total, group_of,
          r_counts, r_step_pay, r_payoff, r_group_sums, r_trust, r_met, r_truth_kept, r_truth_total, why):
    """Play IPD steps ``k0``..``k_max - 1`` of a stretch over aligned pair rows; returns the next step.

    ``why[0]`` says why it stopped early (``MISSING``, ``CONFLICT``), 0 when it did not.

    Mirrors ``IPD.step`` + ``SpecModel.decide`` for the eligible case, operation for operation.
    """
    m = 2 * e
    n = payoff.shape[0]
    rows = kept.shape[0]
    chosen = np.empty(m, np.int64)
    outcome = np.empty(m, np.int64)
    coop = np.empty(m, np.int8)
    why[0] = 0
    for k in range(k0, k_max):
        # Decide everything first and change nothing: a step the loop cannot play is left whole.
        for r in range(m):
            o = r + e if r < e else r - e
            tr = (kept[r] + 1.0) / (kept[r] + broken[r] + 2.0)
            bucket = np.int64(np.floor(tr * buckets + 1e-9))
            d = dec[r]
            # The code projected on the fields the decider reads (see ``fields_kept``).
            code = ((np.int64(last[r]) + offset[0]) * radix[0] * keep[d, 0]
                    + (np.int64(last[o]) + offset[1]) * radix[1] * keep[d, 1]
                    + (np.int64(last2[o]) + offset[2]) * radix[2] * keep[d, 2]
                    + (np.int64(defected[o]) + offset[3]) * radix[3] * keep[d, 3]
                    + (np.int64(good[r]) + offset[4]) * radix[4] * keep[d, 4]
                    + (turns[r] % 2 + offset[5]) * radix[5] * keep[d, 5]
                    + (bucket + offset[6]) * radix[6] * keep[d, 6]
                    + offset[7] * radix[7] * keep[d, 7])
            cell = np.int64(lut[d * space + code]) - 1  # entries are cell + 1; 0 is missing
            if cell < 0:
                why[0] = 1
                return k
            act = np.int64(full[cell])
            out = base[cell] + act
            if nconf[out] > 0:
                why[0] = 2
                return k
            chosen[r] = act
            outcome[r] = out
        for r in range(m):
            coop[r] = coop_of[chosen[r]]
        for i in range(n):
            step_pay[i] = 0.0
        for r in range(m):
            o = r + e if r < e else r - e
            other = coop[o]
            pay = (R if other else S) if coop[r] else (T if other else P)
            step_pay[agents[r]] += pay
        for r in range(m):
            o = r + e if r < e else r - e
            other = coop[o]
            last2[r] = last[r]
            last[r] = coop[r]
            if coop[r] == 0:
                defected[r] = 1
            good[r] = other
            turns[r] += 1
            kept[r] += 1.0 if other else 0.0
            broken[r] += (0.0 if other else 1.0) + lie * 0.0
            truth_kept[agents[r]] += 1.0 if coop[r] else 0.0
            truth_total[agents[r]] += 1.0
            r_counts[k, outcome[r]] += 1
        for i in range(n):
            payoff[i] += step_pay[i]
            r_step_pay[k, i] = step_pay[i]
            r_payoff[k, i] = payoff[i]
            r_truth_kept[k, i] = truth_kept[i]
            r_truth_total[k, i] = truth_total[i]
            r_group_sums[k, group_of[i]] += payoff[i]
        for p in range(rows):
            r_trust[k, p] = (kept[p] + 1.0) / (kept[p] + broken[p] + 2.0)
            r_met[k, p] = turns[p] > 0
    return k_max
