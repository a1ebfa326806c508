"""Fictitious-play investors inside the trust-game loop (``scenarios.trust_game_kernel``).

Why: trust-game-learning's learners stepped one at a time (four decide calls, each
sampling choices and booking partner moves in numpy, a reward pass after the step),
about ten times the work of the compiled stretch its fixed policies play.

What the loop mirrors, operation for operation (``sim.learning.Learning`` with
``agents.policies.beliefs.FictitiousPlay`` at temperature 0, one learning group): per
decide call, each learner's favourite sampled from its preferences with one draw of the
learners' stream, in call order; favourites outside the cell's tier counted as overrides
(by outcome, per step: the principles are summed from them afterwards) and sampled again
among the tier's acts, again in call order; after the step, each learner decision
rewarded with its agent's payoff per learner decision, and the belief and act values
updated from the partner's last cooperative move towards it, in float32 as numpy's
``add.at`` leaves them. The decision's cell still comes from the decision table (its
tier is the spec's say); nothing here decides what the chain of command allows.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from agents.jit import INNER, njit
from agents.policies.fp_kernel import act_value, belief, higher, shares

#: Slots of the loop's ``state`` kept for the learners' stream: draws so far, and draws of the
#: steps played whole (a step left to the generic path gives its draws back).
DRAWN, DRAWN_DONE = 3, 4


class Learners(NamedTuple):
    """One learning group's layout and the loop's scratch for it (its state: :class:`Memory`)."""

    on: bool
    row: np.ndarray        # (n,) agent -> row of the group's state, -1 not a learner
    fields: np.ndarray     # observation fields the learner state is made of (``Learning._states``)
    cards: np.ndarray
    states: int
    nacts: np.ndarray      # (phases,) acts per phase
    epsilon: float
    tier: np.ndarray       # per cell: the acts the spec lets the learner play
    coop: np.ndarray       # per outcome: cooperative move (-1 none)
    s: np.ndarray          # (phases, E) learner state per game
    prefs: np.ndarray      # (E, 3) preferences per game of a call
    bad: np.ndarray        # (E,) games of a call whose favourite was overridden
    ovr: np.ndarray        # (K, width) overridden favourites by outcome, per step
    novr: np.ndarray       # (K,)
    cnt: np.ndarray        # (n,) learner decisions per agent in the step
    flat: np.ndarray       # (2E,) scratch of an update
    val: np.ndarray        # (2E,)
    delta: np.ndarray      # (2E,) float32
    touched: np.ndarray    # (phases,) a learner decided in the phase


class Memory(NamedTuple):
    """The policy's state, per phase flat float32 views (``FictitiousPlay``'s arrays). Apart from
    :class:`Learners` so that ``choose`` and ``learn`` take one phase's arrays: a tuple argument
    costs numba's compiler every member (typing, unpacking, reference counts), read or not."""

    seen: tuple
    u: tuple
    tried: tuple


def learners_of(model: Any, phases: int, e: int, k: int, width: int) -> tuple[Learners, Memory, list[int]]:
    """The loop's view of the learners (off when none) and their state, and the phases whose
    state it created."""
    lr = model.learning
    i64, f32 = np.int64, np.float32
    if lr is None:
        flat = np.zeros(0, f32)
        none = np.zeros(0, i64)
        return Learners(False, np.full(len(model.payoff), -1, i64), none, none, 1, np.zeros(phases, i64), 0.0,
                        none, none, np.zeros((phases, 0), i64), np.zeros((0, 3)), none, np.zeros((0, 0)),
                        np.zeros(0), none, none, np.zeros(0), flat,
                        np.zeros(phases, i64)), Memory((flat,) * phases, (flat,) * phases, (flat,) * phases), []
    gl = next(iter(lr.groups.values()))
    created = [p for p in range(phases) if p not in gl.state]
    st = [lr._state(gl, p, len(model.phases[p])) for p in range(phases)]
    states = int(st[0]["seen"].shape[1])
    table = model.decisions
    return Learners(True, gl.rows.astype(i64), np.asarray(gl.fields, i64), np.asarray(gl.cards, i64), states,
                    np.array([len(model.phases[p]) for p in range(phases)], i64), float(gl.policy.epsilon),
                    table.tier.astype(i64), table.outcome_column("coop").astype(i64), np.zeros((phases, e), i64),
                    np.zeros((e, 3)), np.zeros(e, i64), np.zeros((k, width)), np.zeros(k),
                    np.zeros(len(model.payoff), i64), np.zeros(2 * e, i64), np.zeros(2 * e), np.zeros(2 * e, f32),
                    np.zeros(phases, i64)), Memory(tuple(s["seen"].reshape(-1) for s in st),
                                                   tuple(s["u"].reshape(-1) for s in st),
                                                   tuple(s["tried"].reshape(-1) for s in st)), created


def book_learners(model: Any, lr: Learners, created: list[int], steps: int) -> None:
    """The learners' run totals, last step and per-step overrides as the stretch's steps leave
    them (``Learning.book_stretch``); states created for phases no learner decided in dropped."""
    drop_untouched(model, lr.touched, created)
    if steps:
        model.learning.book_stretch(overrides_per_principle(model.decisions, lr.ovr, steps), lr.novr[:steps].copy())


def drop_untouched(model: Any, touched: np.ndarray, created: list[int]) -> None:
    """Drop the learner states a stretch created for phases no learner decided in: stepping
    would never have made them."""
    gl = next(iter(model.learning.groups.values()))
    for p in created:
        if not touched[p]:
            del gl.state[p]


def overrides_per_principle(table: Any, ovr: np.ndarray, steps: int) -> np.ndarray:
    """(steps, principles) overrides of the favourite per principle broken, from a stretch's
    (K, width) overridden favourites by outcome (``Learning.book_stretch``'s first argument)."""
    comp = table.compliance_rows()
    broken = comp["held"] == 0
    pids = len(table.principle_ids)
    # Outcomes past the records' width (made by the step that ended the stretch) were never
    # overridden in the steps kept: zeros.
    full = np.zeros((steps, table.n_outcomes))
    kept = min(table.n_outcomes, ovr.shape[1])
    full[:, :kept] = ovr[:steps, :kept]
    per = np.zeros((steps, pids))
    for k in range(steps):
        per[k] = np.bincount(comp["principle"][broken], weights=full[k][comp["outcome"][broken]], minlength=pids)
    return per


# --- compiled -------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _draw(p, g, na, r):  # pragma: no cover - compiled
    """``sim.learning._sample`` of row ``g``: the act whose cumulative share passes ``r`` x total."""
    total = p[g, 0]
    for x in range(1, na):
        total += p[g, x]
    u = r * total
    out = 0
    cum = 0.0
    for x in range(na - 1):
        cum += p[g, x]
        if cum <= u:
            out += 1
    return out


@njit(cache=True, nogil=True, inline="always")
def _draw3(p0, p1, p2, na, r):  # pragma: no cover - compiled
    """``_draw`` of one row ``(p0, p1, p2)[:na]``: the act whose cumulative share
    passes ``r`` x total. Scalars, not the row's array: an inlined helper's array argument costs
    an atomic reference count per call."""
    total = p0
    if na > 1:
        total += p1
    if na > 2:
        total += p2
    u = r * total
    out = 0
    cum = p0
    if na > 1 and cum <= u:
        out += 1
    if na > 2:
        cum += p1
        if cum <= u:
            out += 1
    return out


@njit(**INNER)
def choose(lr, seen, u, base, agent, cl, k, phase, games, count, mine, lrng, state):  # pragma: no cover
    """``Learning.choose`` for the learners among ``games[:count]`` (deciders own rows ``mine``),
    ``seen`` and ``u`` the phase's state (``Memory``), ``cl`` the step's decisions (``Calls``);
    False: a cell's outcomes lie past the records' width (nothing of the step is kept)."""
    # Fields read once: each read of a tuple's array in the loop costs a reference count.
    na = lr.nacts[phase]
    row = lr.row
    ls = lr.s
    prefs = lr.prefs
    tiers = lr.tier
    chosen = cl.chosen
    outcome = cl.outcome
    cells = cl.cell
    cnt = lr.cnt
    bad = lr.bad
    eps = lr.epsilon
    keep, spread = 1 - eps, eps / na
    states = lr.states
    width = lr.ovr.shape[1]
    vals = np.empty(3)
    nbad = 0
    drawn = 0
    for q in range(count):
        g = games[q]
        a = agent[mine[g]]
        r = row[a]
        if r < 0:
            continue
        cnt[a] += 1
        c = r * states + ls[phase, g]
        # ``fp_kernel.greedy``'s arithmetic, shared: NaN values (an ``initial`` past float32's
        # range) give NaN preferences, which draw act 0 as ``sim.learning._sample`` does.
        b = belief(seen[2 * c], seen[2 * c + 1])
        for x in range(na):
            vals[x] = act_value(u[(c * na + x) * 2], u[(c * na + x) * 2 + 1], b)
        top = vals[0]
        for x in range(1, na):
            top = higher(top, vals[x])
        cut = top - 1e-6
        best = 0
        for x in range(na):
            if vals[x] >= cut:
                best += 1
        hi, lo = shares(best, keep, spread)
        for x in range(na):
            prefs[g, x] = hi if vals[x] >= cut else lo
        fav = _draw3(prefs[g, 0], prefs[g, 1], prefs[g, 2], na, lrng.random())
        drawn += 1
        cell = cells[phase, g]
        if base[cell] + na > width:
            return False  # outcomes past the records' width: the wrapper ends the stretch here
        if (tiers[cell] >> fav) & 1:
            chosen[phase, g] = fav
            outcome[phase, g] = base[cell] + fav
        else:
            lr.ovr[k, base[cell] + fav] += 1
            lr.novr[k] += 1
            bad[nbad] = g
            nbad += 1
    if drawn:
        lr.touched[phase] = 1
    # The spec's overrides, sampled again among the tier's acts (all fallen out: uniformly).
    for q in range(nbad):
        g = bad[q]
        cell = cells[phase, g]
        tier = tiers[cell]
        total = 0.0
        for x in range(na):
            prefs[g, x] = prefs[g, x] * (1.0 if (tier >> x) & 1 else 0.0)
            total += prefs[g, x]
        if total <= 0:
            for x in range(na):
                prefs[g, x] = 1.0 if (tier >> x) & 1 else 0.0
        act = _draw3(prefs[g, 0], prefs[g, 1], prefs[g, 2], na, lrng.random())
        drawn += 1
        chosen[phase, g] = act
        outcome[phase, g] = base[cell] + act
    state[DRAWN] += drawn
    return True


@njit(**INNER)
def learn(lr, seen, u, tried, agent, step_pay, cl, phase, games, count, mine, promises):  # pragma: no cover
    """``FictitiousPlay.learn`` of one decide call's learner decisions (the phase's state
    ``seen``, ``u``, ``tried``), rewarded as ``Learning.after_play`` rewards them, with the
    partner's last cooperative move towards the decider this step (-1: none)."""
    na = lr.nacts[phase]
    row = lr.row
    ls = lr.s
    coop = lr.coop
    cnt = lr.cnt
    flat = lr.flat
    val = lr.val
    delta = lr.delta
    outcome = cl.outcome
    chosen = cl.chosen
    send = cl.send
    promised = cl.promised
    states = lr.states
    half = flat.shape[0] // 2
    m = 0
    extra = 0  # decisions the partner had no say in: again against "cooperated", after the others
    for q in range(count):
        g = games[q]
        a = agent[mine[g]]
        r = row[a]
        if r < 0:
            continue
        mv = -1
        if phase == 1:  # the investor: the trustee's promise, then its return
            if promises and coop[outcome[0, g]] >= 0:
                mv = coop[outcome[0, g]]
            if send[g] > 0:
                ret = 2 if promised[g] else 3
                if coop[outcome[ret, g]] >= 0:
                    mv = coop[outcome[ret, g]]
        elif coop[outcome[1, g]] >= 0:  # the trustee: what the investor sent
            mv = coop[outcome[1, g]]
        c = r * states + ls[phase, g]
        key = (c * na + chosen[phase, g]) * 2
        reward = step_pay[a] / max(cnt[a], 1)
        if mv >= 0:
            seen[2 * c + mv] += np.float32(1.0)
            key += mv
        else:
            flat[half + extra] = key + 1
            val[half + extra] = reward
            extra += 1
        flat[m] = key
        val[m] = reward
        m += 1
    for j in range(extra):  # after the decisions, in order (the sources lie at or past the end)
        flat[m + j] = flat[half + j]
        val[m + j] = val[half + j]
    m += extra
    for i in range(m):
        tried[flat[i]] += np.float32(1.0)
    # Running means against the values before this call (``np.add.at`` with deltas read first).
    for i in range(m):
        f = flat[i]
        delta[i] = np.float32((val[i] - np.float64(u[f])) / np.float64(tried[f]))
    for i in range(m):
        f = flat[i]
        u[f] = np.float32(u[f] + delta[i])
