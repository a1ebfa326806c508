"""The IPD fast-forward: stretches of plain prisoner's-dilemma steps played in one compiled loop.

Why: a generic step is about a hundred numpy calls whatever the population,
so at a dozen agents that fixed cost, not the game, is the run time (the
12-strategy round robin was no faster than axelrod). Most IPD steps change
nothing but pair memory, payoffs and counters: the graph is fixed, nothing
is random, every (decider, observation) key already has its cell and no
decision logs a conflict. ``IPD.fast_forward`` hands such a stretch to
:func:`fast_forward`, which plays it with one numba loop and returns its
per-step state (``scenarios.stretch.Stretch``) for the engine to book.

The loop decides every interaction of a step before it changes anything; at
the first step that needs the generic path (a key never seen, a conflict to
log) it stops, and the engine plays that step the generic way. Results are
bit-identical to stepping one at a time (``tests/test_fused.py``).

Everything the loop reads comes through the model it is given (its decision
table's public API, the pair table, the population arrays): this module
imports nothing from the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from agents.jit import OUTER, njit
from agents.policies import TRUST_BUCKETS
from scenarios import ipd_agents, ipd_classes, ipd_learners, ipd_replays
from scenarios.environment import ObsCodec
from scenarios.ipd_classes import Classes
from scenarios.ipd_rows import (  # noqa: F401  (TRUST, COIN: the layout, read by tests/test_fused.py)
    COIN,
    CONFLICT,
    DRAW,
    DRAWN_FOR,
    MISSED,
    MISSING,
    OBS_FIELDS,
    TRUST,
    WHY,
    Game,
    Lookup,
    Pairs,
    Population,
    Scratch,
    advance_all,
    decide_all,
    reads_history,
    trust_summary,
)
from scenarios.kernel_sums import (
    gini_step,
    record_agents,
    record_pairs,
    total,
)
from scenarios.pairwise import observe_pairs, swapped_rows
from scenarios.stretch import SUMMARY, Stretch

if TYPE_CHECKING:
    from scenarios.ipd import IPD

#: Bytes of per-step records a stretch may hold; longer runs are played in several stretches.
RECORD_BUDGET = 64 << 20
#: Outcomes that new keys may add before a stretch must end (its count records have that width).
OUTCOME_HEADROOM = 256
#: The same for a table an earlier run of the population left whole (it rarely meets a new key;
#: 256 spare columns were most of a short stretch's records, zeroed and page-faulted each run).
WARM_HEADROOM = 16
#: Most projected keys per decider computed before a stretch (``_complete``).
COMPLETE_LIMIT = 64
#: Largest ``pending`` array kept for later stretches (bytes), and how many are kept.
PENDING_KEEP_BYTES = 1 << 20
PENDING_KEEP = 4
#: Zeroed ``pending`` arrays that finished stretches handed back: a fresh one of a 12-strategy
#: table (~100 kB) is zeroed and page-faulted anew each run, a tenth of the stretch's setup.
_PENDING: list[np.ndarray] = []
#: ``class_memo``'s key of the table ``prepare`` warmed at build.
WARMED = "warmed_at_build"
#: The codec's and the acts' arrays ``_read_by_loop`` hands the replay keys, by layout.
_CONSTANTS: dict[tuple[Any, ...], tuple[np.ndarray, ...]] = {}
def fast_forward(env: IPD, model: Any, limit: int) -> Stretch | None:
    """Play up to ``limit`` steps; None when not even the first could be played this way.

    The caller has checked that the model is eligible (``IPD.can_fast_forward``).
    """
    if limit <= 0 or not len(model.edges):
        return None
    codec = env.codec
    if codec.fields != OBS_FIELDS:
        raise AssertionError(f"the IPD kernel encodes {OBS_FIELDS}, the environment observes {codec.fields}")
    table = model.decisions
    if not table.fits_dense():
        return None  # too many deciders for a dense table: cells live in a dict the loop cannot read
    # A population an earlier run of the process played: its table, whole (here, or at build).
    warmed = (not table.n_cells and table.warm()) or env.class_memo.pop(WARMED, None) is table
    edges = model.edges
    e = len(edges)
    model.pairs.align(model.graph_version, edges[:, 0], edges[:, 1])
    agents, _ = model.edge_agents()
    dec = _deciders(env, model, agents)
    if table.dense(0) is None:
        # A run's first step, or deciders added by an event: one look-up grows the dense table.
        _fill(env, model, e, dec, np.zeros(1, np.int64))
    # Before the records are sized: completing adds outcomes, which need their count columns.
    keep = _complete(env, model, table.read_mask())
    n, rows, groups = len(model.payoff), len(model.pairs), len(model.groups)
    # Room for outcomes that keys first seen during the stretch may add.
    width = table.n_outcomes + (WARM_HEADROOM if warmed else OUTCOME_HEADROOM)
    # With only the engine's metrics to collect, the loop computes them and keeps no records.
    summarised = bool(getattr(model, "summarisable", False))
    # A summarised stretch of learners keeps each step's payoffs for the Gini (``ipd_learners``).
    per_step = 8 * (width + groups + len(SUMMARY) + (0 if summarised else 5 * n + 2 * rows)
                    + (n if summarised and model.learning is not None else 0))
    k = max(1, min(limit, RECORD_BUDGET // per_step))
    # A stretch an earlier run played from the same table state and the same start: copied
    # (its records copied whole, before any are made here).
    replays = table.shared_memo(ipd_replays.NAME) if model.learning is None and summarised else None
    key = None if replays is None else ipd_replays.key_of(model, k, width, groups, dec, *_read_by_loop(env, keep))
    if key is not None:
        replayed = ipd_replays.replay(replays, key, model)
        if replayed is not None:
            env.bounds = env.welfare_bounds(e)
            return replayed
    rec = Stretch.empty(k, width, n, groups, rows, summarised)
    rec.one_block = summarised  # its summary, counts and group sums are all the block reads
    scratch = _scratch(env, model, summarised)
    # state: why the loop stopped, how many rows it found without a cell, the step ``draws`` are for.
    state = np.array([0, 0, -1], np.int64)
    # Per key of the dense table, 1 while it is listed as missing (each is listed once).
    pending = _take_pending(len(table.dense(0)))
    # A row per distinct key without a cell: no more than keys (a fresh 32 MB a stretch at 10^6
    # agents, where the keys number thousands, cost ~5 ms before a bench's timed run).
    missing = np.empty(min(2 * e, len(pending)), np.int64)
    # Detection draws, made only when a step breaks a promise (zeros for 2E rows cost tens of
    # ms at 10^6 agents); the loop reads them only for the step they were drawn for.
    draws = np.zeros(0)
    learners = None
    if model.learning is not None:  # Q-learners (``IPD.can_fast_forward``): played by rows
        learners = ipd_learners.prepare(model, agents, model.edge_agents()[1], k, summarised)
        if learners is None:
            return None
    classes = None if learners is not None else _classes(env, model, dec, e, summarised)
    calls = 0
    while rec.steps < k:
        calls += 1
        rec.steps = _play_from(env, model, rec, k, agents, dec, keep, state, missing, draws, scratch,
                               pending, classes, learners)
        if state[WHY] == MISSING:
            # One row per distinct key: the rest get their cells by look-up on the next pass.
            rows_missing = missing[: state[MISSED]]
            if classes is not None:
                # The fill reads the pair table: give every row its representative's memory first.
                classes.write_back(model.pairs.cols)
                rows_missing = classes.rows[rows_missing]
            keep = _fill(env, model, e, dec, rows_missing)
            pending[:] = 0
            if table.n_outcomes > width:
                break
        elif state[WHY] == DRAW and classes is not None:
            # Detection draws are per row: the rest of the stretch is played by rows.
            classes.write_back(model.pairs.cols)
            classes = None
        elif state[WHY] == DRAW:
            # A promise is broken this step: detection draws as ``IPD.step`` makes them, then replay.
            draws = model.rng_detect.random(2 * e)
            state[DRAWN_FOR] = rec.steps
        else:
            break
    if classes is not None:
        # Written when the columns are next read, or taken over by the next stretch.
        model.pairs.defer(classes)
        # Kept only when played by classes in one call to the end, from the state it shares
        # (keeping reads the pair columns, so the deferred write is made then).
        if (key is not None and learners is None and calls == 1 and rec.steps == k
                and table.shared_memo(ipd_replays.NAME) is replays):
            ipd_replays.keep(replays, key, model, rec, 2 * e)
    if learners is not None:
        ipd_learners.finish(model, learners, rec)
    table.keep()  # offered to later runs of this population (sim.cell_memo.TABLES)
    _give_pending(pending, bool(state[MISSED]))
    if not rec.steps:
        return None
    env.bounds = env.welfare_bounds(e)
    return rec


def prepare(env: IPD, model: Any) -> None:
    """At build, what a fresh model's first stretch does first (~0.2 ms of a ~2.5 ms run of
    Q-learners at 10^3 agents): the table an earlier run of the population left, whole, and the
    pair rows laid out on the edges (``IPD.step`` lays them out the same way)."""
    table = model.decisions
    if not table.n_cells and table.warm():
        env.class_memo[WARMED] = table  # the first stretch sizes its records as a warmed one
    edges = model.edges
    model.pairs.align(model.graph_version, edges[:, 0], edges[:, 1])
    if model.learning is not None:
        # numba unboxes a generator through its ctypes view, which numpy makes on first use (~10 us).
        _ = model.learning.rng.bit_generator.ctypes


def _read_by_loop(env: IPD, keep: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[float | int, ...]]:
    """What the loop reads besides the pair rows, the agents and the table's cells: the read mask,
    the codec, the acts, the payoffs (``ipd_replays.key_of``)."""
    return (keep, *_loop_constants(env)), (env.codec.space, TRUST_BUCKETS, *_game(env))


def _loop_constants(env: IPD) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The codec's radix and offset, the acts' cooperation and betrayal flags, as the loop reads
    them; a handful of layouts per process, each made once (read-only)."""
    codec = env.codec
    const = (codec.radix, codec.offset, env.acts)
    arrays = _CONSTANTS.get(const)
    if arrays is None:
        arrays = _CONSTANTS[const] = (
            np.asarray(codec.radix, np.int64), np.asarray(codec.offset, np.int64),
            np.array([bool(a.cooperative) for a in env.acts], np.int8), np.array(_betrays(env), np.int8))
    return arrays


def _game(env: IPD) -> Game:
    prm = env.params
    return Game(float(prm.R), float(prm.S), float(prm.T), float(prm.P), float(prm.lie_penalty),
                float(prm.detect_prob))


def _take_pending(size: int) -> np.ndarray:
    """A zeroed int8 array of ``size``: a kept one if long enough (shorter ones are dropped), else new.

    ``pop`` hands each kept array to one caller only, whichever thread asks."""
    while _PENDING:
        try:
            buf = _PENDING.pop()
        except IndexError:  # another thread took the last one
            break
        if len(buf) >= size:
            return buf[:size]  # a view: still a C-contiguous int8 array for the loop
    return np.zeros(size, np.int8)


def _give_pending(pending: np.ndarray, dirty: bool) -> None:
    """Keep ``pending`` for a later stretch, zeroed (``dirty``: some key may still be marked)."""
    whole = pending if pending.base is None else pending.base
    if whole.nbytes > PENDING_KEEP_BYTES or len(_PENDING) >= PENDING_KEEP:
        return
    if dirty:
        whole[:] = 0
    _PENDING.append(whole)


def _deciders(env: IPD, model: Any, agents: np.ndarray) -> np.ndarray:
    """Each aligned row's decider: the last stretch's array while the rows' agents (the cached
    array) and every agent's decider are unchanged (a gather of 4M rows at 10^6 agents)."""
    by_agent = model.decider_of[0]
    last = env.class_memo.get("dec")
    if last is not None and last[1] is agents and np.array_equal(last[0], by_agent):
        return last[2]
    dec = by_agent[agents]
    env.class_memo["dec"] = (by_agent.copy(), agents, dec)
    return dec


def _classes(env: IPD, model: Any, dec: np.ndarray, e: int, summarised: bool) -> Classes | None:
    """Pair classes (``scenarios.ipd_classes``) when the stretch may be played by them."""
    if not summarised or len(model.pairs) != 2 * e:
        return None  # per-row records, or pair rows off the edges
    classes = ipd_classes.resume(model.pairs, dec, e, env.class_memo)
    if classes is None:
        classes = ipd_classes.pair_classes(model.pairs.cols, dec, e, env.class_memo)
    if classes is None:
        return None
    agents, _ = model.edge_agents()
    _, partner = model.pairs.pairs()
    profiles = ipd_agents.agent_classes(
        classes.of_row, agents, partner, len(model.payoff),
        (model.payoff, model.step_payoff, model.truth_kept, model.truth_total), model.group_of,
        env.class_memo)
    return classes._replace(agents=profiles)


def _betrays(env: IPD) -> list[bool]:
    """Per act: whether it breaks a promise of cooperation."""
    return [a.promise == "C" and not a.cooperative for a in env.acts]


def _scratch(env: IPD, model: Any, summarised: bool) -> Scratch:
    """What the loop's own metrics read beyond the pair table: partners, the payoff order, buffers.

    Kept for the model's later stretches while the sizes hold: at 10^6 agents they are ~100 MB
    a stretch, and fresh ones cost page faults wherever a loop writes them."""
    if not summarised:
        empty = np.zeros(0)
        return Scratch(np.zeros(0, np.int64), np.zeros(0, np.int64), empty, empty, empty, empty, empty)
    n, rows = len(model.payoff), len(model.pairs)
    _, partner = model.pairs.pairs()
    kept: Scratch | None = env.class_memo.get("scratch")
    if kept is not None and len(kept.order) == n and len(kept.gap) == rows:
        # ``order`` as the last stretch left it, a permutation of the agents: any order will do.
        made = kept._replace(partner=partner)
    else:
        # Any order will do for Gini's first step (it sorts from scratch when far off); an argsort
        # here was a tenth of a second at 10^6 agents that class stretches never use.
        made = Scratch(partner, np.arange(n), np.empty(n), np.empty(n),
                       np.empty(rows), np.empty(rows), np.empty(n))
    env.class_memo["scratch"] = made
    return made


def _complete(env: IPD, model: Any, keep: np.ndarray) -> np.ndarray:
    """Give every projected key of each decider that reads few fields its cell now; the read mask after.

    A decider that reads only trust has 21 projected keys: computing them all before the
    loop (each through the chain of command, once) means the loop never stops for one that
    trust drifting into a new bucket would otherwise meet. Keys of deciders reading more
    than ``COMPLETE_LIMIT`` combinations are left to be filled as met. Repeated until the
    read mask is stable, since a new cell may read a field no earlier one did. The keys may
    be observations no run meets; policies and checks answer any observation of the code
    space (the conformance kit, ``sim.testing``, samples the whole space).
    """
    table, codec = model.decisions, env.codec
    done = table.marks.get("ipd_complete")
    if done is not None and np.array_equal(done, keep):
        return keep  # a table kept by an earlier run of this population, completed for this mask
    while True:
        for d in range(len(keep)):
            fields = np.flatnonzero(keep[d])
            sizes = tuple(codec.card[f] for f in fields)
            if int(np.prod(sizes)) > COMPLETE_LIMIT:
                continue
            digits = np.indices(sizes).reshape(len(sizes), -1) if sizes else np.zeros((0, 1), np.int64)
            codes = np.zeros(digits.shape[1], np.int64)
            for f, row in zip(fields.tolist(), digits, strict=True):
                codes += row * codec.radix[f]
            table.cells(0, np.full(len(codes), d, np.int64), codes)
        after = table.read_mask()
        if np.array_equal(after, keep):
            table.marks["ipd_complete"] = keep
            return keep
        keep = after


def _fill(env: IPD, model: Any, e: int, dec: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Give the keys of pair ``rows`` their cells the generic way; returns the read mask after.

    The loop looks keys up projected on the fields read, so the projected keys get cells too.
    Only the rows the loop found without a cell are encoded, not the whole population.
    """
    table = model.decisions
    codes = observe_pairs(model, env.codec, rows, swapped_rows(e)[rows], 0)
    table.cells(0, dec[rows], codes)
    keep = table.read_mask()
    table.cells(0, dec[rows], project(env.codec, codes, keep[dec[rows]]))
    return keep


def project(codec: ObsCodec, codes: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``codes`` with the digits of fields not kept (``keep``: one row per code) set to 0.

    Sound because a table entry is the cell of its own code, and a projected code agrees
    with the real one on every field its decider's decisions ever read.
    """
    out = np.zeros_like(codes)
    for f, (r, c) in enumerate(zip(codec.radix, codec.card, strict=True)):
        out += (codes // r % c) * r * keep[:, f]
    return out


def _play_from(env: IPD, model: Any, rec: Stretch, k: int, agents: np.ndarray, dec: np.ndarray,
               keep: np.ndarray, state: np.ndarray, missing: np.ndarray, draws: np.ndarray,
               scratch: Scratch, pending: np.ndarray, classes: Classes | None = None,
               learners: ipd_learners.QArrays | None = None) -> int:
    codec = env.codec
    table = model.decisions
    cols = model.pairs.cols
    radix, offset, cooperative, betrays = _loop_constants(env)
    lookup = Lookup(dec, keep, codec.space, radix, offset, TRUST_BUCKETS, table.dense(0), table.full,
                    table.base, table.outcome_column("nconf"), cooperative, betrays)
    game = _game(env)
    if classes is not None:
        return ipd_classes.play_classes(model, rec, k, agents, dec, keep, state, missing, scratch, pending, classes,
                            lookup, game)
    pairs = Pairs(cols["last"], cols["last2"], cols["defected"], cols["good"], cols["turns"],
                  cols["kept"], cols["broken"])
    people = Population(agents, model.payoff, model.step_payoff, model.truth_kept, model.truth_total,
                        model.group_of.astype(np.int64))
    if learners is not None:
        return ipd_learners.play(rec.steps, k, lookup, game, pairs, people, rec.arrays, state, missing, scratch,
                                 pending, ipd_learners.refresh(model, learners), model.learning.rng)
    return int(_play(rec.steps, k, lookup, game, pairs, people, rec.arrays, state, missing, draws, scratch,
                     pending))


@njit(**OUTER)
def _play(k0, k_max, lk, game, pr, pop, rec, state, missing, draws, sc, pending):  # pragma: no cover - compiled
    """Play IPD steps ``k0``..``k_max - 1`` of a stretch over aligned pair rows; returns the next step.

    ``state[WHY]`` says why it stopped early (``MISSING``: ``state[MISSED]`` rows listed in
    ``missing``, one per distinct key (``pending`` marks keys listed), have no cell; ``CONFLICT``; ``DRAW``: a promise is broken and ``draws`` are not
    this step's), 0 when it did not. A summarised stretch (``rec.summary`` has columns) gets
    the engine's metrics from ``scenarios.kernel_sums`` instead of per-agent records. Mirrors ``IPD.step`` + ``SpecModel.decide`` for the
    eligible case, operation for operation.
    """
    m = lk.decider.shape[0]
    e = m // 2
    n = pop.payoff.shape[0]
    rows = pr.kept.shape[0]
    chosen = np.empty(m, np.int64)
    outcome = np.empty(m, np.int64)
    # Each aligned row's trust, kept up to date by the settling pass (one division a row a step).
    trust_now = np.empty(m)
    for r in range(m):
        trust_now[r] = (pr.kept[r] + 1.0) / (pr.kept[r] + pr.broken[r] + 2.0)
    summarised = rec.summary.shape[1] > 0
    history = reads_history(lk.keep)
    state[WHY] = 0
    coop = np.empty(m, np.int8)
    lie = np.empty(m)
    for k in range(k0, k_max):
        # Decide everything first and change nothing: a step the loop cannot play is left whole.
        betrayals = decide_all(lk, pr, trust_now, history, chosen, outcome, state, missing, pending)
        if betrayals < 0:
            state[WHY] = CONFLICT
            return k
        if state[MISSED]:
            state[WHY] = MISSING
            return k
        if betrayals and state[DRAWN_FOR] != k:
            state[WHY] = DRAW
            return k
        for i in range(n):
            pop.step_pay[i] = 0.0
        for r in range(m):
            coop[r] = lk.coop_of[chosen[r]]
        # One pass in row order (the order bincount adds payoffs in): pay, count, truth.
        for r in range(m):
            o = r + e if r < e else r - e
            mine = coop[r]
            other = coop[o]
            pay = (game.R if other else game.S) if mine else (game.T if other else game.P)
            pop.step_pay[pop.agent[r]] += pay
            # A broken promise of the partner, seen with the step's draw (IPD.step's order).
            seen = betrayals > 0 and lk.betray_of[chosen[o]] == 1 and draws[r] < game.detect
            lie[r] = game.lie * (1.0 if seen else 0.0)
            pop.truth_kept[pop.agent[r]] += 1.0 if mine else 0.0
            pop.truth_total[pop.agent[r]] += 1.0
            rec.counts[k, outcome[r]] += 1
        advance_all(pr, coop, lie, trust_now)
        for i in range(n):
            pop.payoff[i] += pop.step_pay[i]
            rec.group_sums[k, pop.group_of[i]] += pop.payoff[i]
        if summarised:
            rec.summary[k, 0] = total(pop.step_pay, n)
            rec.summary[k, 1] = gini_step(pop.payoff, sc.order, sc.xs, sc.buf)
            trust_summary(rec, k, trust_now, pr, pop, sc)
            continue
        record_agents(rec, k, pop.step_pay, pop.payoff, pop.truth_kept, pop.truth_total)
        record_pairs(rec, k, pr.kept, pr.broken, pr.turns, rows)
    return k_max
