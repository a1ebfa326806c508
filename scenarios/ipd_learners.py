"""Q-learners in the IPD fast-forward: the choice within the tier and the update, compiled.

Why: a stepped Q-learning step is ~40 numpy passes and the engine's booking
of one step, whatever the population; at 10^3 agents that fixed cost, not the
game, was the run. ``scenarios.ipd_kernel`` plays a stretch of plain IPD steps
in one loop; for a model whose decisions are the resolver's or one group's
epsilon-greedy Q-learners (``scenarios.ipd.plays_learners``) it hands the
steps to :func:`_play_q`, which mirrors ``SpecModel.decide`` with
``Learning.choose`` and ``Learning.after_play`` operation for operation:

- every row's cell is looked up first (projected codes, as ``decide_all``);
  a key without a cell or a cell one of whose allowed acts logs a conflict
  stops the step before anything is drawn, so the generic step plays it whole;
- the learner's favourite is drawn from its epsilon-greedy preferences with
  one draw per decision from the learners' own generator (``Learning.rng``,
  passed to numba, which draws from its bit generator: the same stream), then
  the overridden ones (outside the cell's tier) draw again, as ``_sample`` does;
- rewards are the step payoff per decision; with ``gamma > 0`` each decision
  waits for the next one with the same partner (fixed pairs within a stretch)
  and the waiting updates are applied in the order of their sorted keys, all
  values read before any is written, as ``np.add.at`` applies them.

Overrides per step and per principle come back in the stretch's learner
columns (``Learning.book_stretch``). ``tests/test_ipd_learners.py`` compares
fused and stepped runs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from agents.jit import INNER, OUTER, njit
from agents.kernel_entry import Entry
from scenarios.ipd_rows import (
    BUCKET_EPS,
    CONFLICT,
    GOOD,
    MISSED,
    MISSING,
    MY_LAST,
    PARITY,
    PARTNER_DEFECTED,
    PARTNER_LAST,
    PARTNER_LAST2,
    TRUST,
    WHY,
    advance_all,
    trust_summary,
)
from scenarios.kernel_sums import gini_chunk, record_agents, record_pairs, total
from scenarios.stretch import Stretch


class QArrays(NamedTuple):
    """One learning group's Q-learners as the loop reads them (see ``prepare``)."""

    lrow: np.ndarray      # (2E,) int64: the row's agent's row in the group's state, -1 not a learner
    q: np.ndarray         # flat view of the group's Q (agents x states x acts)
    fields: np.ndarray    # (F,) int64: observation fields the learner sees
    cards: np.ndarray     # (F,) int64: their cardinalities
    offset: np.ndarray    # (fields,) int64: the codec's offsets
    n_states: int
    n_acts: int
    rate: float
    eps: float            # epsilon times the exploration scale (1.0: no annealing)
    gamma: float
    per_agent: np.ndarray  # (n,) int64: learner decisions per agent per step
    order: np.ndarray      # the group's rows sorted by waiting key (agent row << 32 | partner + 1)
    wait_cell: np.ndarray  # (2E,) int64: flat Q index of the row's last decision
    wait_r: np.ndarray     # (2E,) float64: its reward
    waiting: np.ndarray    # (1,) int64: 1 once decisions wait (gamma > 0)
    tier: np.ndarray       # per cell: the acts the spec allows the learner
    ov_start: np.ndarray   # per outcome: first of its broken principles in ``ov_pid``
    ov_pid: np.ndarray     # principle ids, grouped by outcome
    over: np.ndarray       # (K, principles) float64: overrides per principle per step
    overridden: np.ndarray  # (K,) int64: decisions overridden per step
    payrows: np.ndarray    # (K, n) payoffs after each step, for the Gini taken after the loop; (0, 0) not summarised


def prepare(model: Any, agents: np.ndarray, partners: np.ndarray, k: int, summarised: bool) -> QArrays | None:
    """The learner arrays of a stretch of up to ``k`` steps; None when the waiting decisions are not
    those of these rows (after rewiring: the generic step resolves them first)."""
    learning = model.learning
    ((g, gl),) = learning.groups.items()
    pol = gl.policy
    n_acts = len(model.phases[0])
    st = learning.state_of(g, 0, n_acts)
    lrow = gl.rows[agents]
    if (lrow[model.group_of[agents] == g] < 0).any():
        return None  # a member joined after the group's state was laid out: the generic step's case
    mine = np.flatnonzero(lrow >= 0)
    m = len(agents)
    wait_cell, wait_r = np.zeros(m, np.int64), np.zeros(m)
    order = np.zeros(0, np.int64)
    waiting = 0
    if pol.gamma > 0:
        key = (lrow[mine] << 32) + (partners[mine].astype(np.int64) + 1)
        by = np.argsort(key, kind="stable")
        order = mine[by]
        if len(st["wait_key"]):
            if not np.array_equal(st["wait_key"], key[by]):
                return None
            wait_cell[order] = st["wait_cell"]
            wait_r[order] = st["wait_r"]
            waiting = 1
    codec = model.env.codec
    n_pr = len(model.decisions.principle_ids)
    n_states = int(st["Q"].shape[1])
    return QArrays(lrow, st["Q"].reshape(-1), np.asarray(gl.fields, np.int64), np.asarray(gl.cards, np.int64),
                   np.asarray(codec.offset, np.int64), n_states, n_acts, float(pol.rate),
                   float(pol.epsilon * 1.0), float(pol.gamma),
                   np.bincount(agents[mine], minlength=len(model.payoff)).astype(np.int64),
                   order, wait_cell, wait_r, np.array([waiting], np.int64), np.zeros(0, np.int64),
                   np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros((k, n_pr)), np.zeros(k, np.int64),
                   np.empty((k, len(model.payoff)) if summarised else (0, 0)))


def refresh(model: Any, qa: QArrays) -> QArrays:
    """``qa`` with the table's tier column and the outcomes' broken principles as they are now."""
    table = model.decisions
    comp = table.compliance_rows()
    broken = comp["held"] == 0
    out, pid = comp["outcome"][broken], comp["principle"][broken]
    by = np.argsort(out, kind="stable")
    start = np.zeros(table.n_outcomes + 1, np.int64)
    np.cumsum(np.bincount(out, minlength=table.n_outcomes), out=start[1:])
    return qa._replace(tier=np.asarray(table.tier, np.int64), ov_start=start,
                       ov_pid=np.asarray(pid[by], np.int64))


def finish(model: Any, qa: QArrays, rec: Stretch) -> None:
    """Hand the stretch's learner state back (waiting decisions, sorted by key; the overrides) and
    take each step's Gini from the payoff rows with numpy's sort (numba's was a third of the loop)."""
    steps = rec.steps
    learning = model.learning
    (g,) = learning.groups
    st = learning.state_of(g, 0, qa.n_acts)
    if qa.gamma > 0 and qa.waiting[0]:
        lrow = qa.lrow[qa.order]
        partners = model.edge_agents()[1]
        st["wait_key"] = (lrow << 32) + (partners[qa.order].astype(np.int64) + 1)
        st["wait_cell"] = qa.wait_cell[qa.order].copy()
        st["wait_r"] = qa.wait_r[qa.order].copy()
    if steps:
        learning.book_stretch(qa.over[:steps].copy(), qa.overridden[:steps].copy())
        if rec.summarised:
            gini = np.empty(steps)
            gini_chunk(qa.payrows[:steps], np.empty(steps), gini)
            rec.arrays.summary[:steps, 1] = gini


def play(k0: int, k_max: int, lk: Any, game: Any, pr: Any, pop: Any, rec: Any, state: np.ndarray,
         missing: np.ndarray, sc: Any, pending: np.ndarray, qa: QArrays, rng: np.random.Generator) -> int:
    return int(_PLAY_Q(k0, k_max, lk, game, pr, pop, rec, state, missing, sc, pending, qa, rng))


@njit(**INNER)
def _digit(f, r, o, last, last2, defected, good, turns, bucket, offset):  # pragma: no cover - compiled
    """Field ``f``'s digit (offset added) of row ``r``'s observation (``o``: the partner's row)."""
    if f == MY_LAST:
        v = np.int64(last[r])
    elif f == PARTNER_LAST:
        v = np.int64(last[o])
    elif f == PARTNER_LAST2:
        v = np.int64(last2[o])
    elif f == PARTNER_DEFECTED:
        v = np.int64(defected[o])
    elif f == GOOD:
        v = np.int64(good[r])
    elif f == PARITY:
        v = np.int64(turns[r] % 2)
    elif f == TRUST:
        v = bucket
    else:
        v = np.int64(0)  # the coin: no coin-reading policy in a fused model
    return v + offset[f]


@njit(**INNER)
def _look_up(lk, pr, qa, trust_now, cell, s, state, missing, pending):  # pragma: no cover - compiled
    """Every row's cell and learner state; False when a step cannot be played (nothing changed)."""
    keep, radix, offset, decider, lut, base, nconf, full = (lk.keep, lk.radix, qa.offset, lk.decider, lk.lut,
                                                           lk.base, lk.nconf, lk.full)
    lrow, fields, cards, tier = qa.lrow, qa.fields, qa.cards, qa.tier
    last, last2, defected, good, turns = pr.last, pr.last2, pr.defected, pr.good, pr.turns
    m = decider.shape[0]
    e = m // 2
    space, buckets, na, nf = lk.space, lk.buckets, qa.n_acts, keep.shape[1]
    state[MISSED] = 0
    for r in range(m):
        o = r + e if r < e else r - e
        bucket = np.int64(np.floor(trust_now[r] * buckets + BUCKET_EPS))
        d = decider[r]
        code = np.int64(0)
        for f in range(nf):
            if keep[d, f] != 0:
                code += _digit(f, r, o, last, last2, defected, good, turns, bucket, offset) * radix[f]
        key = d * space + code
        c = np.int64(lut[key]) - 1
        if c < 0:
            # A full list leaves the key unmarked: the pass after the fill finds it again
            # (numba checks no bound; ``missing`` is sized by the dense table's keys).
            if pending[key] == 0 and state[MISSED] < missing.shape[0]:
                pending[key] = 1
                missing[state[MISSED]] = r
                state[MISSED] += 1
            continue
        cell[r] = c
        if lrow[r] >= 0:
            x = np.int64(0)
            for i in range(fields.shape[0]):
                x = x * cards[i] + _digit(fields[i], r, o, last, last2, defected, good, turns, bucket, offset)
            s[r] = x
            allowed = tier[c]
            if allowed == 0:  # no act allowed: ``_sample``'s fallback, left to the generic step
                state[WHY] = CONFLICT
                return False
            for a in range(na):
                if (allowed >> a) & 1 and nconf[base[c] + a] > 0:
                    state[WHY] = CONFLICT
                    return False
        elif nconf[base[c] + full[c]] > 0:
            state[WHY] = CONFLICT
            return False
    if state[MISSED]:
        state[WHY] = MISSING
        return False
    return True


@njit(**INNER)
def _prefs(q, at, na, eps, p):  # pragma: no cover - compiled
    """Epsilon-greedy preferences of the Q-values ``q[at:at + na]`` into ``p`` (``QLearning.preferences``)."""
    top = q[at]
    for a in range(1, na):
        top = max(top, q[at + a])
    count = 0
    for a in range(na):
        if q[at + a] == top:
            count += 1
    for a in range(na):
        best = 1.0 if q[at + a] == top else 0.0
        p[a] = (1 - eps) * (best / count) + eps / na


@njit(**INNER)
def _sample(p, na, u):  # pragma: no cover - compiled
    """The act ``sim.learning._sample`` draws for probabilities ``p`` and uniform ``u``."""
    tot = p[0]
    for a in range(1, na):
        tot += p[a]
    x = u * tot
    out = 0
    cum = 0.0
    for a in range(na - 1):
        cum += p[a]
        if cum <= x:
            out += 1
    return out


@njit(**INNER)
def _choose(lk, qa, k, cell, s, chosen, bad, fav, rng):  # pragma: no cover - compiled
    """Every row's act: the resolver's, or the learner's within its tier (``Learning.choose``)."""
    # Arrays read into locals once: a tuple field read in the loop costs a reference count.
    lrow, q, tier, full, base = qa.lrow, qa.q, qa.tier, lk.full, lk.base
    m = lrow.shape[0]
    na, ns, eps = qa.n_acts, qa.n_states, qa.eps
    p = np.empty(na)
    nbad = 0
    for r in range(m):
        c = cell[r]
        if lrow[r] < 0:
            chosen[r] = full[c]
            continue
        _prefs(q, (lrow[r] * ns + s[r]) * na, na, eps, p)
        f = _sample(p, na, rng.random())
        if (tier[c] >> f) & 1:
            chosen[r] = f
        else:
            fav[r] = f
            bad[nbad] = r
            nbad += 1
    # The spec overrides these favourites: counted, then drawn again within the tier.
    ov_start, ov_pid, over = qa.ov_start, qa.ov_pid, qa.over
    for i in range(nbad):
        r = bad[i]
        o = base[cell[r]] + fav[r]
        qa.overridden[k] += 1
        for j in range(ov_start[o], ov_start[o + 1]):
            over[k, ov_pid[j]] += 1.0
    for i in range(nbad):
        r = bad[i]
        _prefs(q, (lrow[r] * ns + s[r]) * na, na, eps, p)
        allowed = tier[cell[r]]
        tot = 0.0
        for a in range(na):
            p[a] = p[a] * (1.0 if (allowed >> a) & 1 else 0.0)
            tot += p[a]
        if tot <= 0:  # ``_sample``'s fallback: the allowed acts alike
            for a in range(na):
                p[a] = 1.0 if (allowed >> a) & 1 else 0.0
        chosen[r] = _sample(p, na, rng.random())


@njit(**INNER)
def _learn(qa, pop, s, chosen, delta):  # pragma: no cover - compiled
    """``QLearning.learn`` for the step's decisions: every value read, then the updates applied."""
    lrow, q, per_agent, agent, pay = qa.lrow, qa.q, qa.per_agent, pop.agent, pop.step_pay
    m = lrow.shape[0]
    na, ns, rate, gamma = qa.n_acts, qa.n_states, qa.rate, qa.gamma
    if gamma == 0:
        for r in range(m):
            if lrow[r] >= 0:
                c = (lrow[r] * ns + s[r]) * na + chosen[r]
                delta[r] = rate * (pay[agent[r]] / max(per_agent[agent[r]], 1) - q[c])
        for r in range(m):
            if lrow[r] >= 0:
                q[(lrow[r] * ns + s[r]) * na + chosen[r]] += delta[r]
        return
    order, wait_cell, wait_r = qa.order, qa.wait_cell, qa.wait_r
    if qa.waiting[0]:
        for i in range(order.shape[0]):
            r = order[i]
            at = (lrow[r] * ns + s[r]) * na
            best = q[at]
            for a in range(1, na):
                best = max(best, q[at + a])
            delta[i] = rate * (wait_r[r] + gamma * best - q[wait_cell[r]])
        for i in range(order.shape[0]):
            q[wait_cell[order[i]]] += delta[i]
    for i in range(order.shape[0]):
        r = order[i]
        wait_cell[r] = (lrow[r] * ns + s[r]) * na + chosen[r]
        wait_r[r] = pay[agent[r]] / max(per_agent[agent[r]], 1)
    qa.waiting[0] = 1


@njit(**OUTER)
def _play_q(k0, k_max, lk, game, pr, pop, rec, state, missing, sc, pending, qa, rng):  # pragma: no cover
    """``ipd_kernel._play`` for a model with Q-learners (no promises, so no detection draws)."""
    m = lk.decider.shape[0]
    e = m // 2
    n = pop.payoff.shape[0]
    rows = pr.kept.shape[0]
    cell = np.empty(m, np.int64)
    s = np.zeros(m, np.int64)
    chosen = np.empty(m, np.int64)
    bad = np.empty(m, np.int64)
    fav = np.empty(m, np.int64)
    delta = np.empty(m)
    trust_now = np.empty(m)
    for r in range(m):
        trust_now[r] = (pr.kept[r] + 1.0) / (pr.kept[r] + pr.broken[r] + 2.0)
    summarised = rec.summary.shape[1] > 0
    state[WHY] = 0
    coop = np.empty(m, np.int8)
    lie = np.zeros(m)
    for k in range(k0, k_max):
        if not _look_up(lk, pr, qa, trust_now, cell, s, state, missing, pending):
            return k
        _choose(lk, qa, k, cell, s, chosen, bad, fav, rng)
        for i in range(n):
            pop.step_pay[i] = 0.0
        for r in range(m):
            coop[r] = lk.coop_of[chosen[r]]
        for r in range(m):
            o = r + e if r < e else r - e
            mine = coop[r]
            other = coop[o]
            pop.step_pay[pop.agent[r]] += (game.R if other else game.S) if mine else (game.T if other else game.P)
            pop.truth_kept[pop.agent[r]] += 1.0 if mine else 0.0
            pop.truth_total[pop.agent[r]] += 1.0
            rec.counts[k, lk.base[cell[r]] + chosen[r]] += 1
        advance_all(pr, coop, lie, trust_now)
        for i in range(n):
            pop.payoff[i] += pop.step_pay[i]
            rec.group_sums[k, pop.group_of[i]] += pop.payoff[i]
        _learn(qa, pop, s, chosen, delta)
        if summarised:
            rec.summary[k, 0] = total(pop.step_pay, n)
            for i in range(n):
                qa.payrows[k, i] = pop.payoff[i]
            trust_summary(rec, k, trust_now, pr, pop, sc)
            continue
        record_agents(rec, k, pop.step_pay, pop.payoff, pop.truth_kept, pop.truth_total)
        record_pairs(rec, k, pr.kept, pr.broken, pr.turns, rows)
    return k_max


#: ``_play_q`` without the dispatcher's typing of the learners' generator per call (``agents.kernel_entry``).
_PLAY_Q = Entry(_play_q)
