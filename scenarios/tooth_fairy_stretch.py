"""A tooth-fairy stretch played with numpy across its steps: K steps for about the calls of one.

Why: a tooth-fairy step is ~60 numpy calls over the 2E questions plus the
engine's decide and booking; at 10^3 agents the calls' fixed cost, not the
game, is the step. Nothing an answer depends on depends on an earlier answer:
the draws are made whatever is decided, and the agents' priors follow the
reactions seen (the draws), not the acts. So a stretch between events draws
its steps' numbers up front (``rng_env``'s five per question and
``rng_detect``'s one, in the order stepping draws them), computes every step's
observations at once, looks up the decisions step by step through the
decision table (``DecisionTable.cells``: the chain of command, a key never
seen resolved in the order stepping meets it), and settles all the steps in
a few calls over (K, 2E) arrays.

Bit-identical to stepping (``tests/test_tooth_fairy_stretch.py``): elementwise
operations are the same operations; sums of 0/1 counts are exact in any
order; payoffs are added per step in question order (one ``bincount`` whose
bins are (step, agent)), cumulated with ``np.cumsum`` (left to right, as
``+=`` each step); pair memory is written step by step as ``ToothFairy.step``
writes it, and every step's trust is recorded for the engine's metrics.
What this cannot mirror (a learner, deliberation draws, a language model, an
agent that left, an overridden step) is stepped (``unplayable``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from agents.kernel_loader import worth_loading
from scenarios.pairwise import cells_of
from scenarios.stretch import Stretch
from scenarios.tooth_fairy_rules import (
    ACTS,
    BLUNT,
    DEFLECT,
    LIE,
    belief_bucket,
    posterior,
)

if TYPE_CHECKING:
    from scenarios.tooth_fairy import ToothFairy

#: ``rng_env``'s draws per question, in the order ``ToothFairy.step`` makes them.
CHILD, CUE, SENSITIVE, PRESS, REVEAL = range(5)
#: Bytes of per-step records and draws a stretch may hold; longer quiet spans take several.
RECORD_BUDGET = 64 << 20


def unplayable(env: ToothFairy, model: Any, base: type) -> str | None:
    """Why the model's next steps cannot be played here (None: they can); ``base`` is the class
    whose step, metrics and priors the stretch mirrors (``ToothFairy``: passed, not imported,
    so that imports point one way)."""
    own = all(getattr(type(env), f) is getattr(base, f) for f in ("step", "metrics", "priors"))
    reasons = (
        (not own, "the environment's step or metrics are overridden"),
        (len(model.phases) != 1, "more than one decision phase"),
        (not model.deterministic_decisions,
         "a decision is not the resolver's alone (deliberation, error_rate, language model, learner, steer)"),
        (model.memory is not None, "language models remember outcomes"),
        (not model.fixed_deciders, "evolution changes the deciders"),
        (model.network.may_rewire, "rewiring may cut ties after a step"),
        (model.script.has_triggers, "a `when` trigger watches the steps"),
        (not bool(model.alive.all()), "an agent has left"),
        (not len(model.edges), "no one to answer"),
    )
    return next((why for bad, why in reasons if bad), None)


def _compiled(model: Any, work: int) -> bool:
    """Whether the compiled passes play the stretch: only the engine's metrics to collect, numba
    there, and loaded already or enough questions to pay for its import (~0.8 s)."""
    if not model.summarisable:
        return False
    return worth_loading("numba", work) is not None


def decide(model: Any, agent: np.ndarray, asker: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each step's acts and outcomes for (K, 2E) ``codes``, through the decision table (the chain
    of command), with the conflicts each step's decisions log (``SpecModel.decide``'s)."""
    table = model.decisions
    cells = cells_of(model, agent, codes)
    act = table.full[cells].astype(np.int64)
    outcome = table.base[cells] + act
    nconf = table.outcome_column("nconf")
    t0 = model.steps
    for s in range(len(codes)):
        model.log.conflicts(t0 + s + 1, agent, asker, outcome[s], nconf)
    return act, outcome


def play(env: ToothFairy, model: Any, limit: int) -> Stretch | None:
    """Play up to ``limit`` steps after ``model.steps`` (the caller checked ``unplayable``)."""
    prm = env.params
    table = model.decisions
    if not table.n_cells:
        table.warm()  # as the first step does
    asker, agent = env.questions(model)
    m, n, groups = len(agent), len(model.payoff), len(model.groups)
    rows = env._pair_rows(model, asker, agent)
    pairs = model.pairs
    per_step = 8 * (8 * m + 6 * n + 2 * len(pairs) + groups)
    k = max(1, min(limit, RECORD_BUDGET // per_step))
    draws = model.rng_env.random((k, 5, m))  # stepping's five calls a step, one after another
    detect = model.rng_detect.random((k, m))
    env.extend(n)
    if _compiled(model, k * m):
        from scenarios import tooth_fairy_kernel  # only now: numba takes most of a second to load

        rec = tooth_fairy_kernel.play(env, model, k, draws, detect, agent, asker, rows)
        if rec is not None:
            return rec
    child = draws[:, CHILD] < prm.child_share
    cue_right = draws[:, CUE] < prm.cue_accuracy
    cue_child = np.where(cue_right, child, ~child)
    sensitive = draws[:, SENSITIVE] < prm.sensitive_prob
    pressed = sensitive & (draws[:, PRESS] < prm.press_prob)
    reveal = draws[:, REVEAL] < prm.reveal_prob
    # Reactions seen before each step: the counts before the stretch, then each step's added.
    at = (np.arange(k)[:, None] * n + agent).ravel()
    seen = np.bincount(at, weights=reveal.ravel().astype(float), minlength=k * n).reshape(k, n)
    kids = np.bincount(at, weights=(reveal & child).ravel().astype(float), minlength=k * n).reshape(k, n)
    revealed = np.cumsum(np.concatenate([env.revealed[None, :], seen]), axis=0)
    children = np.cumsum(np.concatenate([env.children[None, :], kids]), axis=0)
    w = prm.prior_weight
    prior = (prm.prior * w + children[:k, agent]) / np.maximum(w + revealed[:k, agent], 1e-12)

    belief = belief_bucket(posterior(prior, cue_child, prm.cue_accuracy))
    codes = env.codec.encode(sensitive=sensitive.astype(np.int64), child_belief=belief,
                             pressed=pressed.astype(np.int64))
    act, outcome = decide(model, agent, asker, codes)
    va, vc = np.asarray(prm.value_adult), np.asarray(prm.value_child)
    vc_pressed = np.where(np.arange(len(ACTS)) == LIE, vc[LIE], vc[BLUNT])
    at_stake = child & sensitive
    # A child's value of each act: its pressed row where pressed (``ToothFairy.step``'s vc_now).
    child_value = np.where(pressed, vc_pressed[act], vc[act])
    value = np.where(at_stake, child_value, va[act])
    best = np.where(at_stake, np.where(pressed, vc_pressed.max(), vc.max()), va.max())
    base = np.where(at_stake, np.where(pressed, vc_pressed[DEFLECT], vc[DEFLECT]), va[DEFLECT])
    bounds = np.stack([base.sum(axis=1), best.sum(axis=1)], axis=1)
    lies = act == LIE
    spoiled = at_stake & ((act == BLUNT) | (pressed & ~lies))
    caught = lies & (detect < prm.detect_prob)
    bad = caught | spoiled
    step_pay = np.bincount(at, weights=value.ravel(), minlength=k * n).reshape(k, n)
    payoff = np.cumsum(np.concatenate([model.payoff[None, :], step_pay]), axis=0)[1:]
    honest = np.bincount(at, weights=(~lies).ravel().astype(float), minlength=k * n).reshape(k, n)
    asked = np.bincount(agent, minlength=n)
    truth_kept = np.cumsum(np.concatenate([model.truth_kept[None, :], honest]), axis=0)[1:]
    truth_total = model.truth_total + np.arange(1, k + 1)[:, None] * asked
    g_at = (np.arange(k)[:, None] * groups + model.group_of).ravel()
    group_sums = np.bincount(g_at, weights=payoff.ravel(), minlength=k * groups).reshape(k, groups)
    trust, met = np.empty((k, len(pairs))), np.empty((k, len(pairs)), dtype=bool)
    good = ~bad
    for s in range(k):  # pair memory as the step writes it (rows as indices: the same scatters)
        pairs.record_moves(rows, good[s].astype(np.int8), good[s].astype(np.int8))
        pairs.observe(rows, good[s].astype(float), bad[s].astype(float))
        trust[s] = pairs.all_trust()
        met[s] = pairs["turns"] > 0
    # What the stretch leaves: the model's and the environment's state after its last step.
    model.step_payoff[:] = step_pay[k - 1]
    model.payoff[:] = payoff[k - 1]
    model.truth_kept[:] = truth_kept[k - 1]
    model.truth_total[:] = truth_total[k - 1]
    env.revealed, env.children = revealed[k], children[k]
    env.bounds = (float(bounds[k - 1, 0]), float(bounds[k - 1, 1]))
    table.keep()  # offered to later runs of this population (sim.cell_memo.TABLES)
    width = table.n_outcomes
    counts = np.bincount((np.arange(k)[:, None] * width + outcome).ravel(), minlength=k * width).reshape(k, width)
    rec = Stretch.empty(k, width, 0, groups, 0)
    rec.steps = k
    rec.arrays = rec.arrays._replace(counts=counts, step_pay=step_pay, payoff=payoff, group_sums=group_sums,
                                     trust=trust, met=met, truth_kept=truth_kept, truth_total=truth_total)
    rec.counters = {"lies": lies.sum(axis=1).astype(float), "spoiled": spoiled.sum(axis=1).astype(float),
                    "dilemmas": (pressed & (belief >= 2)).sum(axis=1).astype(float)}
    rec.bounds = bounds
    return rec
