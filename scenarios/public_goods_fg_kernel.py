"""The public-goods-fg fast-forward: stretches of partner-design rounds played in one compiled loop.

Why: a generic round is two ``model.decide`` calls (every member's
contribution, then every ordered pair of group mates' punishment: ~30,000
pairs at 10^4 agents) with their numpy ranking and table look-ups, and a
metrics booking, where the plain Mesa model does a few float operations per
member. Every agent draws its own parameters, so each is its own decider and
every round's keys are new ones (the coin, the drifting state): a key table
cannot serve them. What can: the deciders are batch-ranked families
(``sim.decisions._Families``) of ``conditional_contributor``, whose cells are
filed by (the fields the resolver read, the policy's ranking). The loop
computes each decision's wanted contribution or points (``rank_batch``'s
arithmetic, operation for operation), looks its ranking and cell up in the
family's filing, and plays the act that cell holds: the chain of command's
verdict, computed once per (read values, ranking) by the resolver.

The loop decides a round's contributions, then its punishments, before it
changes anything. It stops at a round with a key no cell serves (``MISSING``:
the wrapper asks ``DecisionTable.cells`` for that phase's whole decision, as
``model.decide`` would, then the round is replayed) or a decision that logs a
conflict (``CONFLICT``: the generic step plays it). Coins are drawn from
``rng_env`` per round up front, as the step draws them; a stretch that ends
early puts the stream back where stepping would leave it.
``tests/test_public_goods_kernel.py`` compares fused and stepped runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from agents.jit import njit
from agents.policies import COIN_SIDES
from agents.policies.contributors import LEVELS, ConditionalContributor, punish_points
from scenarios.draw_block import draws
from scenarios.kernel_sums import _gini_shift, _gini_sorted, any_nan, gini_chunk, total
from scenarios.pairwise import needs_coin
from scenarios.stretch import SUMMARY, Stretch

if TYPE_CHECKING:
    from scenarios.public_goods_fg import PublicGoodsFG

#: Why the loop stopped (``state[WHY]``) and in which phase a key had no cell (``state[PHASE]``).
WHY, PHASE = 0, 1
MISSING, CONFLICT = 1, 2
#: Bits of a family read-set key holding the ranking (``sim.decisions._RID_BITS``).
RID_BITS = 20
#: Bytes of per-step records a stretch may hold.
RECORD_BUDGET = 64 << 20
#: Outcomes that keys first met during a stretch may add before it must end.
OUTCOME_HEADROOM = 256
#: The ``rank_batch`` whose arithmetic ``_want_give`` and the punishment loop mirror.
_RANK_BATCH = vars(ConditionalContributor)["rank_batch"].__func__
#: Most entries of one read-set's dense look-up (read values x rankings); more: stepped.
DENSE_LIMIT = 1 << 20
#: No decider: asks for the table's families alone.
_NONE = np.zeros(0, np.int64)
#: Observation fields in the order the loop builds their digits.
OBS_FIELDS = ("own", "others", "fined", "watched", "sanctions", "shortfall", "coin")
#: The fields every contribution of a run reads alike (sanctions: the game's; shortfall: 0).
SANCTIONS, SHORTFALL = OBS_FIELDS.index("sanctions"), OBS_FIELDS.index("shortfall")


class Lookup(NamedTuple):
    """One phase's families: wanted value -> ranking, (read values, ranking) -> cell."""

    want_rid: np.ndarray  # (families, wants) ranking number, -1 unknown
    rs_start: np.ndarray  # family f's read-sets: rs_start[f]:rs_start[f + 1]
    rs_fields: np.ndarray  # (read-sets, fields) field positions read, -1 padding
    at: np.ndarray  # read-set r's cells: cells[at[r] + read values * rids[r] + ranking]
    rids: np.ndarray
    cells: np.ndarray  # -1: none filed


class Table(NamedTuple):
    """The decision table's columns the loop reads, and the codec's cardinalities."""

    full: np.ndarray
    base: np.ndarray
    nconf: np.ndarray
    card: np.ndarray
    points: np.ndarray  # per punishment act, its points


class Game(NamedTuple):
    endowment: float
    mpcr: float
    punish_cost: float
    fine: float
    sanctions: int
    punishment: bool


class People(NamedTuple):
    """Per agent: state the environment keeps, parameters, payoffs, the groups and the pairs."""

    own: np.ndarray
    others: np.ndarray
    fined: np.ndarray
    watched: np.ndarray
    baseline: np.ndarray
    slope: np.ndarray
    weight: np.ndarray
    fine_response: np.ndarray
    deterrence: np.ndarray
    severity: np.ndarray
    fam0: np.ndarray  # each agent's family in the contribution phase (``Lookup``'s rows)
    fam1: np.ndarray  # and in the punishment phase
    grp: np.ndarray  # the game's group of each agent (0..G-1)
    group_of: np.ndarray  # the engine's group of each agent (payoff.<group>)
    pi: np.ndarray  # punishment pairs (punisher, target), in the step's order
    pj: np.ndarray
    payoff: np.ndarray
    step_pay: np.ndarray
    truth_kept: np.ndarray
    truth_total: np.ndarray


class Out(NamedTuple):
    """Per step: the environment's metric and counters."""

    share: np.ndarray
    points: np.ndarray


def fast_forward(env: PublicGoodsFG, model: Any, limit: int) -> Stretch | None:
    """Play up to ``limit`` rounds; None when not even the first could be played this way.

    The caller has checked that the model is eligible (``PublicGoodsFG.can_fast_forward``).
    """
    if env.codec.fields != OBS_FIELDS:
        raise AssertionError(f"the kernel encodes {OBS_FIELDS}, the environment observes {env.codec.fields}")
    n = len(model.alive)
    env._grow(n)
    table = model.decisions
    table.warm_families()  # a population of these families an earlier run of the process played
    prm = env.params
    got = _inputs(env, model, table)
    if got is None:
        return None
    memo, pairs, params, people, game, wants1 = got
    pi, pj = pairs[1], pairs[2]
    dec0, dec1 = params[0], params[7]
    size = _size(table, model, n, limit)
    k, summarised = size[0], size[4]
    spare = memo.pop("buffers", None)  # made at build for the first stretch: used once
    if spare is not None and spare[0] == size:
        rec, out, rows = spare[1:]
    else:
        rec, out, rows = _buffers(*size)
    # Coins for every round of the stretch, drawn as each step would draw them; put back below.
    coin = needs_coin(model)
    rng = model.rng_env
    saved = rng.bit_generator.state if coin else None
    coins = _coins(rng, saved, k, n) if coin else np.zeros((k, n), np.int64)
    state = np.zeros(2, np.int64)
    give = np.zeros(n, np.int64)
    steps = 0
    last_fill = (-1, -1)
    while steps < k:
        tab = _table(table, env.codec.card, env.phases[1])
        lks = _lookups(table, wants1, env.codec.card)
        if lks is None:
            break
        lk0, lk1 = lks
        steps = int(_play(steps, k, *lk0, *lk1, *tab, *game, *people, coins, *_records(rec.arrays), *out, state,
                          give, rows))
        if state[WHY] != MISSING or (steps, int(state[PHASE])) == last_fill:
            break  # done, a conflict, or a fill that served nothing new (the round is stepped)
        last_fill = (steps, int(state[PHASE]))
        # The phase's whole decision through the table, as model.decide asks it; then a replay.
        if state[PHASE] == 0:
            codes = env.codec.encode(own=env.own, others=env.others, fined=env.fined, watched=env.watched,
                                     sanctions=game.sanctions, shortfall=0, coin=coins[steps] if coin else 0)
            table.cells(0, dec0, codes)
        else:
            short = np.clip(give[pi] - give[pj], 0, LEVELS)
            codes = env.codec.encode(own=0, others=0, fined=0, watched=0, sanctions=1, shortfall=short, coin=0)
            table.cells(1, dec1[pi], codes)
        if table.n_outcomes > rec.arrays.counts.shape[1]:
            # New outcomes need count columns (a fresh table's first round adds hundreds).
            wider = np.zeros((k, table.n_outcomes + OUTCOME_HEADROOM), np.int64)
            wider[:, : rec.arrays.counts.shape[1]] = rec.arrays.counts
            rec.arrays = rec.arrays._replace(counts=wider)
    table.keep_families()  # offered to later runs (sim.cell_memo.TABLES)
    if coin and steps < k:
        rng.bit_generator.state = saved
        for _ in range(steps):
            rng.integers(0, COIN_SIDES, n)
    if not steps:
        return None
    rec.steps = steps
    if summarised:
        gini = np.empty(steps)
        gini_rows(rows[:steps], gini)
        rec.arrays.summary[:steps, 1] = gini
    shares = out.share[:steps]
    if math.isnan(env.first):
        env.first = float(shares[0])
    env.shares.extend(shares.tolist())
    env.share = float(shares[-1])
    rec.env_metrics = {"contribution": shares.copy()}
    if prm.punishment:
        pts = out.points[:steps].copy()
        rec.counters = {"punishment_points": pts, "fines": prm.fine * pts}
    bounds = memo.get("bounds")
    if bounds is None or bounds[0] is not pairs:
        bounds = memo["bounds"] = (pairs, env.round_bounds(pairs[3]))
    env.bounds = bounds[1]  # fixed groups, everyone alive: every round's bounds alike
    return rec


def gini_rows(rows: np.ndarray, out: np.ndarray) -> None:
    """``kernel_sums.gini_chunk`` of each row of ``rows`` (overwritten) into ``out``.

    Why: numpy's sort of ten rows of a thousand payoffs was ~0.13 ms, a tenth of a run (its
    comparison sort: the vectorised one is not used for rows this short). A bucket sort (each
    value's bucket by its place between the row's least and greatest, then insertion) gives the
    same sorted values, ties in any order (equal values, or zeros of either sign, which the
    running sum does not tell apart), in half the time.
    """
    n = rows.shape[1]
    tots = np.empty(len(rows))
    if not _gini_buckets(rows, tots, out, np.empty(n), np.empty(n + 1, np.int64)):
        gini_chunk(rows, tots, out)  # a NaN payoff: numpy's sort places it


#: Insertion moves per value past which a row's buckets are given up for numba's sort.
BUCKET_MOVES = 8


@njit(cache=True, nogil=True)
def _gini_buckets(rows, tots, out, dst, start):  # pragma: no cover - compiled
    """``gini_chunk`` with a bucket sort; False (rows untouched) when a row holds a NaN."""
    if any_nan(rows):
        return False
    _gini_shift(rows, tots)
    for j in range(rows.shape[0]):
        row = rows[j]
        if not _bucket_sort(row, dst, start):
            row.sort()  # values clumped past the buckets' use, or infinite: a comparison sort
    _gini_sorted(rows, tots, out)
    return True


@njit(cache=True, nogil=True)
def _bucket_sort(row, dst, start):  # pragma: no cover - compiled
    """Sort ``row`` (no NaN) through buckets; False, ``row`` as it was, when its span is infinite
    or the insertion would take more than ``BUCKET_MOVES`` moves per value."""
    n = row.shape[0]
    if n < 2:
        return True
    lo, hi = row[0], row[0]
    for i in range(n):
        lo = min(lo, row[i])
        hi = max(hi, row[i])
    if not hi > lo:
        return True  # one value (zeros of either sign): sorted as it is
    if not hi - lo < np.inf:
        return False
    scale = n / (hi - lo)
    for b in range(n + 1):
        start[b] = 0
    for i in range(n):
        start[min(int((row[i] - lo) * scale), n - 1) + 1] += 1
    for b in range(n):
        start[b + 1] += start[b]
    for i in range(n):
        b = min(int((row[i] - lo) * scale), n - 1)
        dst[start[b]] = row[i]
        start[b] += 1
    moves = 0
    budget = BUCKET_MOVES * n
    for i in range(1, n):
        v = dst[i]
        q = i - 1
        while q >= 0 and dst[q] > v:
            dst[q + 1] = dst[q]
            q -= 1
            moves += 1
        dst[q + 1] = v
        if moves > budget:
            return False
    for i in range(n):
        row[i] = dst[i]
    return True


def _coins(rng: np.random.Generator, state: dict[str, Any] | None, k: int, n: int) -> np.ndarray:
    """``k`` rounds' coins, drawn as each round draws ``n``, from one raw block where that gives
    the same numbers, else round by round (``scenarios.draw_block.draws``); ``state``: the
    generator's, just read."""
    return draws(rng, k, 0, n, COIN_SIDES, state)[1]


def _inputs(env: PublicGoodsFG, model: Any, table: Any) -> tuple[dict[str, Any], tuple[Any, ...], tuple[Any, ...],
                                                             People, Game, int] | None:
    """What the loop reads that a run's stretches share (the pairs of fixed groups, the agents'
    drawn parameters, the state and payoff arrays, the game's numbers), kept in ``kernel_memo``
    while the arrays and parameters they come from are the same; None: the rounds are not for
    the loop (no pair to punish, a decider outside the families, a replaced ``rank_batch``)."""
    prm = env.params
    memo = env.__dict__.setdefault("kernel_memo", {})  # made by setup (a subclass may have its own)
    pairs = memo.get("pairs")
    if pairs is None or not _same(pairs[0], env.group):
        pairs = memo["pairs"] = env.kernel_pairs()
    if prm.punishment and not len(pairs[1]):
        return None  # no pair to punish: the step counts nothing; left to it
    got = memo.get("params")
    if got is None or not (_same(got[0], model.decider_of[0]) and _same(got[7], model.decider_of[1])):
        got = memo["params"] = env.agent_params(table, model.decider_of)
    if got is None:
        return None
    families = table.batch_families(_NONE)
    if families is None or any(f.cls is not ConditionalContributor for f in families[1]):
        return None
    if vars(ConditionalContributor)["rank_batch"].__func__ is not _RANK_BATCH:
        return None  # a replaced rank_batch: the loop's arithmetic is the original's
    parts = (prm, pairs, got, env.own, env.others, env.fined, env.watched, model.group_of, model.payoff,
             model.step_payoff, model.truth_kept, model.truth_total)
    kept = memo.get("inputs")
    if kept is not None and all(a is b for a, b in zip(kept[0], parts, strict=True)):
        return memo, pairs, got, *kept[1:]
    _, fam0, baseline, slope, weight, fine_response, deterrence, _, fam1, severity = got
    people = People(env.own, env.others, env.fined, env.watched, baseline, slope, weight, fine_response,
                    deterrence, severity, fam0, fam1, pairs[3], model.group_of.astype(np.int64), pairs[1], pairs[2],
                    model.payoff, model.step_payoff, model.truth_kept, model.truth_total)
    game = Game(float(prm.endowment), float(prm.mpcr), float(prm.punish_cost), float(prm.fine),
                int(prm.punishment), bool(prm.punishment))
    # Punishment wants are rint(severity * shortfall / 3): the largest possible, plus one.
    wants1 = int(np.ceil(severity.max(initial=0.0) * LEVELS / 3)) + 2
    memo["inputs"] = (parts, people, game, wants1)
    return memo, pairs, got, people, game, wants1


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """``np.array_equal`` for arrays of one dtype (else False: a memo then remade, never wrong),
    as one comparison of their bytes: each stretch checks its memos, and numpy's version is a
    few array calls, tens of microseconds right after a build."""
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _buffers(k: int, width0: int, n: int, n_groups: int, summarised: bool) -> tuple[Stretch, Out, np.ndarray]:
    """A stretch's records, the environment's per-round columns and (summarised) each round's
    payoffs for the Gini, sorted by numpy after the loop."""
    rec = Stretch.empty(k, width0, n, n_groups, 0, summarised)
    rec.one_block = summarised  # its counts, summary, counters and contribution are all the metrics read
    return rec, Out(np.zeros(k), np.zeros(k)), np.empty((k, n if summarised else 0))


def prepare(env: PublicGoodsFG, model: Any) -> None:
    """At build, in a process that has played the loop (a sweep's later runs, a bench's timed
    run): the first stretch's inputs and buffers, made as that stretch would make them."""
    table = model.decisions
    if _inputs(env, model, table) is None:
        return
    steps = model.spec_scenario.steps
    limit = min(model.script.quiet_steps(0, steps), model.network.steps_before_rewire(0))
    if limit <= 0:
        return
    size = _size(table, model, len(model.alive), limit)
    env.kernel_memo["buffers"] = (size, *_buffers(*size))


def _size(table: Any, model: Any, n: int, limit: int) -> tuple[int, int, int, int, bool]:
    """A stretch's buffer layout ``(k, width0, n, n_groups, summarised)``: ``prepare`` and
    ``fast_forward`` must agree on it, or the buffers made at build go unused."""
    n_groups = len(model.groups)
    summarised = bool(getattr(model, "summarisable", False))
    width0 = table.n_outcomes + OUTCOME_HEADROOM
    per_step = 8 * (width0 + n_groups + len(SUMMARY) + (0 if summarised else 5 * n) + 2 * n)  # + Gini rows, coins
    return max(1, min(limit, RECORD_BUDGET // per_step)), width0, n, n_groups, summarised


def _table(table: Any, card: tuple[int, ...], sanction: Any) -> Table:
    """The decision table's columns the loop reads, kept in its marks while it holds the same cells."""
    version = (table.n_cells, table.n_outcomes)
    kept = table.marks.get("public_goods_fg_table")
    if kept is not None and kept[0] == version:
        return kept[1]
    tab = Table(table.full.astype(np.int64), table.base, table.outcome_column("nconf").astype(np.int64),
                np.asarray(card, np.int64),
                np.array([punish_points(a.name) for a in sanction], dtype=np.int64))
    table.marks["public_goods_fg_table"] = (version, tab)
    return tab


def _lookups(table: Any, wants1: int, card: tuple[int, ...]) -> tuple[Lookup, Lookup] | None:
    """Both phases' look-ups, kept in the table's marks while its families' filings are as they
    were (they only grow: their sizes say whether they changed), so a warm table's come with it."""
    families = table.batch_families(np.zeros(0, np.int64))[1]
    version = (sum(len(f.want_rid) + sum(len(filed) for _, filed in f.read_sets) for f in families),
               len(families), wants1)
    kept = table.marks.get("public_goods_fg_lookups")
    if kept is not None and kept[0] == version:
        return kept[1]
    lk0, lk1 = _lookup(families, LEVELS + 1, card), _lookup(families, wants1, card)
    got = None if lk0 is None or lk1 is None else (lk0, lk1)
    table.marks["public_goods_fg_lookups"] = (version, got)
    return got


def _lookup(families: list[Any], wants: int, card: tuple[int, ...]) -> Lookup | None:
    """The families' filings as dense arrays; None when a read-set's values times rankings
    exceed ``DENSE_LIMIT``."""
    want_rid = np.full((len(families), wants), -1, np.int64)
    rs_start = [0]
    fields: list[list[int]] = []
    at = [0]
    rids: list[int] = []
    parts: list[np.ndarray] = []
    for f, fam in enumerate(families):
        for w, r in fam.want_rid.items():
            if 0 <= w < wants:
                want_rid[f, w] = r
        nr = max(len(fam.rankings), 1)
        for index, filed in fam.read_sets:
            size = int(np.prod([card[i] for i in index], dtype=np.int64)) * nr
            if size > DENSE_LIMIT:
                return None
            dense = np.full(size, -1, np.int64)
            k = np.fromiter(filed.keys(), np.int64, len(filed))
            dense[(k >> RID_BITS) * nr + (k & ((1 << RID_BITS) - 1))] = np.fromiter(filed.values(), np.int64,
                                                                                    len(filed))
            fields.append(list(index))
            rids.append(nr)
            parts.append(dense)
            at.append(at[-1] + size)
        rs_start.append(len(fields))
    width = max((len(x) for x in fields), default=0)
    rs_fields = np.full((len(fields), max(width, 1)), -1, np.int64)
    for r, x in enumerate(fields):
        rs_fields[r, : len(x)] = x
    return Lookup(want_rid, np.asarray(rs_start, np.int64), rs_fields,
                  np.asarray(at, np.int64), np.asarray(rids, np.int64), _cat(parts))


def _records(arrays: Any) -> tuple[np.ndarray, ...]:
    """The ``StepArrays`` columns ``_play`` writes, in its order (no trust or met: no pair rows)."""
    return (arrays.counts, arrays.step_pay, arrays.payoff, arrays.group_sums, arrays.truth_kept,
            arrays.truth_total, arrays.summary)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


@njit(cache=True, nogil=True)
def _cell(rs_start, rs_fields, at, rids, cells, f, digits, rid, card):  # pragma: no cover - compiled
    """The cell filed for these observation digits and ranking in family ``f``; -1 none (a
    ``Lookup``'s arrays, passed apart: the hot loops read no tuple field per decision).

    Read-sets are tried in the family's order, as ``_Families.cells`` tries them."""
    for r in range(rs_start[f], rs_start[f + 1]):
        sub = 0
        for t in range(rs_fields.shape[1]):
            i = rs_fields[r, t]
            if i < 0:
                break
            sub = sub * card[i] + digits[i]
        if rid < rids[r]:
            cell = cells[at[r] + sub * rids[r] + rid]
            if cell >= 0:
                return cell
    return -1


@njit(cache=True, nogil=True)
def _reads_constants(rs_start, rs_fields, families):  # pragma: no cover - compiled
    """Per family, whether its read-sets read no field but ``SANCTIONS`` and ``SHORTFALL``
    (the same for every contribution of a run)."""
    fixed = np.ones(families, np.bool_)
    for f in range(families):
        for r in range(rs_start[f], rs_start[f + 1]):
            for t in range(rs_fields.shape[1]):
                i = rs_fields[r, t]
                if i < 0:
                    break
                if i != SANCTIONS and i != SHORTFALL:
                    fixed[f] = False
    return fixed


@njit(cache=True, nogil=True)
def _want_give(pp, a, coin, sanctions):  # pragma: no cover - compiled
    """``ConditionalContributor.rank_batch``'s contribution for agent ``a`` (give mode)."""
    return _want(pp.own, pp.others, pp.fined, pp.watched, pp.baseline, pp.slope, pp.weight, pp.fine_response,
                 pp.deterrence, a, coin, sanctions)


@njit(cache=True, nogil=True)
def _want(own_, others, fined, watched, baseline, slope, weight, fine_response, deterrence, a, coin,
          sanctions):  # pragma: no cover - compiled
    """``_want_give`` on the agents' arrays (read into the caller's locals once)."""
    own = own_[a]
    if own < 0:
        t = LEVELS * min(1.0, baseline[a] + deterrence[a] * sanctions)
    else:
        t = own + weight[a] * (slope[a] * others[a] - own)
        if watched[a] != 0:
            t = max(t, float(own))
        t = min(float(LEVELS), max(0.0, t + fine_response[a] * fined[a]))
    low = np.floor(t + 1e-9)
    return int(low) + (1 if coin < np.rint((t - low) * COIN_SIDES) else 0)


@njit(cache=True, nogil=True)
def _play(k0, k_max, want_rid0, rs_start0, rs_fields0, at0, rids0, cells0,  # pragma: no cover - compiled
          want_rid1, rs_start1, rs_fields1, at1, rids1, cells1, full, base, nconf, card, points,
          endowment, mpcr, punish_cost, fine, sanctions, punishment,
          own, others, fined, watched, baseline, slope, weight, fine_response, deterrence, severity, fam0, fam1,
          grp, group_of, pi, pj, payoff, step_pay, truth_kept, truth_total,
          coins, counts, rec_step_pay, rec_payoff, group_sums, rec_truth_kept, rec_truth_total, summary,
          share, points_out, state, give, rows):
    """Play rounds ``k0``..``k_max - 1``; returns the next round (see the module doc for stops).

    Mirrors ``PublicGoodsFG.step`` (partner design, everyone alive) and ``SpecModel.decide``
    operation for operation: sums in the order ``np.bincount`` adds. The arguments are the
    fields of ``Lookup`` (both phases), ``Table``, ``Game``, ``People`` and ``StepArrays``
    (``_args``), then the coins, the ``Out`` columns and scratch: passed one by one, not as
    tuples, as numba types a tuple argument in Python (a cold call of ~50 arrays: ~0.1 ms).
    """
    n = own.shape[0]
    m = pi.shape[0]
    g = 0
    for a in range(n):
        g = max(g, grp[a] + 1)
    size = np.zeros(g, np.int64)
    for a in range(n):
        size[grp[a]] += 1
    out0 = np.empty(n, np.int64)
    act1 = np.empty(m, np.int64)
    out1 = np.empty(m, np.int64)
    digits = np.zeros(7, np.int64)
    pot = np.empty(g)
    sums = np.empty(g)
    seen = np.empty(g)
    # Each agent's punishment costs and fines (add_payoff's two sums), points received.
    cost = np.empty(n)
    fines = np.empty(n)
    recv = np.empty(n)
    # A punishment's cell depends on (family, shortfall, wanted points) alone (the other digits
    # are the phase's constants), and the table does not change during the call: each cell is
    # looked up once (-2: not yet) rather than once per pair and round.
    wants0 = want_rid0.shape[1]
    wants1 = want_rid1.shape[1]
    pcell = np.full((want_rid1.shape[0], LEVELS + 1, wants1), -2, np.int64)
    # And per (punisher, shortfall), as its family and wanted points are the punisher's: a pair's
    # cell in one read (~0.05 ms of ~0.4 at 10^3 agents, ten rounds) where pcell's takes the
    # wanted points' rounding and three indices.
    acell = np.full((n, LEVELS + 1), -2, np.int64)
    # Likewise a contribution's cell depends on (family, wanted contribution) alone in a family
    # whose read-sets read only the phase's constants (sanctions, shortfall): ccell, where
    # fixed0[f]; any other family's cells are looked up per decision.
    fixed0 = _reads_constants(rs_start0, rs_fields0, want_rid0.shape[0])
    ccell = np.full((want_rid0.shape[0], wants0), -2, np.int64)
    summarised = summary.shape[1] > 0
    state[WHY] = 0
    for k in range(k0, k_max):
        # Contributions: decide all, change nothing.
        missing = False
        for a in range(n):
            f = fam0[a]
            want = _want(own, others, fined, watched, baseline, slope, weight, fine_response, deterrence, a,
                         coins[k, a], sanctions)
            cell = -1
            if 0 <= want < wants0:
                cell = ccell[f, want] if fixed0[f] else -2
                if cell == -2:
                    rid = want_rid0[f, want]
                    cell = -1
                    if rid >= 0:
                        digits[0] = own[a] + 1
                        digits[1] = others[a]
                        digits[2] = fined[a]
                        digits[3] = watched[a]
                        digits[4] = sanctions
                        digits[5] = 0
                        digits[6] = coins[k, a]
                        cell = _cell(rs_start0, rs_fields0, at0, rids0, cells0, f, digits, rid, card)
                    if fixed0[f]:
                        ccell[f, want] = cell
            if cell < 0:
                missing = True
                continue
            give[a] = full[cell]
            out0[a] = base[cell] + give[a]
            if nconf[out0[a]] > 0:
                state[WHY] = CONFLICT
                return k
        if missing:
            state[WHY] = MISSING
            state[PHASE] = 0
            return k
        if punishment:
            digits[0] = 1
            digits[1] = 0
            digits[2] = 0
            digits[3] = 0
            digits[4] = 1
            digits[6] = 0
            for p in range(m):
                i, j = pi[p], pj[p]
                short = min(max(give[i] - give[j], 0), LEVELS)
                cell = acell[i, short]
                if cell == -2:
                    want = int(np.rint(severity[i] * short / 3)) if short > 0 else 0
                    f = fam1[i]
                    if want < wants1:
                        cell = pcell[f, short, want]
                        if cell == -2:
                            rid = want_rid1[f, want]
                            cell = -1
                            if rid >= 0:
                                digits[5] = short
                                cell = _cell(rs_start1, rs_fields1, at1, rids1, cells1, f, digits, rid, card)
                            pcell[f, short, want] = cell
                    else:
                        cell = -1
                    acell[i, short] = cell
                if cell < 0:
                    missing = True
                    continue
                act1[p] = full[cell]
                out1[p] = base[cell] + act1[p]
                if nconf[out1[p]] > 0:
                    state[WHY] = CONFLICT
                    return k
            if missing:
                state[WHY] = MISSING
                state[PHASE] = 1
                return k
        # Settle: payoffs (as add_payoff's bincounts add them), state, counts, metrics. Each sum
        # takes its terms in the order the step's numpy passes do; the passes are merged where
        # one pass's results are not read before the next (a value only its own agent reads).
        for c in range(g):
            pot[c] = 0.0
            sums[c] = 0.0
            seen[c] = 0.0
        for a in range(n):
            pot[grp[a]] += give[a] * endowment / LEVELS
            sums[grp[a]] += float(give[a])
            counts[k, out0[a]] += 1
            cost[a] = 0.0
            fines[a] = 0.0
            recv[a] = 0.0
        total_pts = 0
        if punishment:
            for p in range(m):
                pts = points[act1[p]]
                cost[pi[p]] += -punish_cost * pts
                fines[pj[p]] += -fine * pts
                recv[pj[p]] += pts
                total_pts += pts
                counts[k, out1[p]] += 1
        given = 0.0
        for a in range(n):
            c = grp[a]
            pay = endowment - give[a] * endowment / LEVELS + mpcr * pot[c]
            pay = 0.0 + (0.0 + pay)
            if punishment:
                pay = (pay + cost[a]) + fines[a]
            step_pay[a] = pay
            if size[c] > 1:
                others[a] = int(np.rint((sums[c] - give[a]) / (size[c] - 1)))
            else:
                others[a] = 0
            own[a] = give[a]
            got = int(recv[a])
            fined[a] = min(got, 12)
            seen[c] += float(got)
            given += float(give[a])
            payoff[a] += pay
            group_sums[k, group_of[a]] += payoff[a]
        for a in range(n):
            if seen[grp[a]] > 0 and watched[a] < 1:
                watched[a] = 1
        share[k] = given / n / LEVELS
        points_out[k] = float(total_pts)
        if summarised:
            summary[k, 0] = total(step_pay, n)
            for a in range(n):
                rows[k, a] = payoff[a]
            summary[k, 2] = np.nan
            summary[k, 3] = np.nan
            continue
        for a in range(n):
            rec_step_pay[k, a] = step_pay[a]
            rec_payoff[k, a] = payoff[a]
            rec_truth_kept[k, a] = truth_kept[a]
            rec_truth_total[k, a] = truth_total[a]
    return k_max
