"""The trust-game fast-forward: stretches of investment-game steps played in one compiled loop.

Why: a generic ``TrustGame.step`` is four decide calls, four observation
encodings and some forty array passes, each a numpy call per step, and the
engine's booking on top; a plain Mesa model of the game is a few Python lines
per edge. ``TrustGame.fast_forward`` hands stretches between script events
to :func:`fast_forward`, which plays them with one numba loop and returns
their per-step state (``scenarios.stretch.Stretch``); a step at which the
network rewires is rewired between two calls of the loop inside the stretch, so
a run is one stretch (one booking) rather than one per rewiring period.

What the loop mirrors, operation for operation (``TrustGame.step``,
``SpecModel.decide``): the roles drawn from ``model.rng_match`` (drawn up front
for the steps until the next rewiring, whose partners come from the same stream
after them; what a shorter stretch did not use is given back by restoring the
generator and drawing only what was played), the promise, send
and return decisions, each looked up in the decision table through a hash of
(decider, observation code projected on the fields the decider ever read:
sound for the reason ``scenarios.ipd_kernel.project`` gives), payoffs summed
in ``bincount``'s order, pair memory, Beta evidence, the truth record, the
detection draws (from ``model.rng_detect`` inside the loop, only at steps
with a broken promise, as many as ``TrustGame._learn`` draws), conflicts
(logged afterwards in decide-call order), outcome counts, the environment's
counters and metrics, and, when only the engine's metrics are collected, those
too (``scenarios.kernel_sums``). A key without a cell stops the loop: the
wrapper computes its cell the generic way (``DecisionTable.cells``, the chain
of command) and the step is replayed. Results equal stepping bit for bit
(``tests/test_trust_game_kernel.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from agents import hashing
from agents.hashing import shift_of
from agents.hashing import slot as key_slot
from agents.jit import INNER, OUTER, njit
from agents.kernel_entry import Entry
from agents.pair_align import radix_sort
from agents.pair_align import unsigned as _u  # indices never negative: no wraparound
from agents.policies import TRUST_BUCKETS
from agents.uniques import unique
from scenarios.ipd_rows import Pairs
from scenarios.kernel_sums import (
    _gini_shift,
    _gini_sorted,
    any_nan,
    gini_chunk,
    record_agents,
    record_pairs,
    total,
)
from scenarios.stretch import SUMMARY, Stretch
from scenarios.trust_game_learners import (
    DRAWN,
    DRAWN_DONE,
    book_learners,
    choose,
    learn,
    learners_of,
)

if TYPE_CHECKING:
    from scenarios.trust_game import TrustGame

#: Why the loop stopped early: a decision key without a cell; the conflict buffer is full.
MISSING, FULL = 1, 2
#: Slots of the loop's ``state``: why it stopped, decisions listed without a cell, conflict rows.
WHY, MISSED, LOGGED = 0, 1, 2
#: The observation layout the loop encodes (checked against the environment's codec).
OBS_FIELDS = ("stage", "promised", "sent", "my_last", "partner_last", "partner_last2", "partner_defected",
              "my_last_payoff_good", "parity", "trust", "coin")
#: Per-step tallies the loop hands back, in this column order.
TALLY = ("sent", "invested", "returned", "promised", "broken")
#: Bytes of per-step records a stretch may hold; longer runs are played in several stretches.
RECORD_BUDGET = 64 << 20
#: Outcomes that new keys may add before a stretch must end (its count records have that width).
OUTCOME_HEADROOM = 256
#: Conflict rows held before the loop hands them to the event log (then it goes on).
CONFLICT_ROWS = 1 << 18
#: Added before flooring trust into buckets, as ``TrustGame._observe`` does.
BUCKET_EPS = 1e-9
#: Most projected codes per decider whose cells are computed before a stretch (``_prepare``).
COMPLETE_LIMIT = 64
#: Where the key hash is filed with its decision table (``DecisionTable.marks``).
MARK = "trust_game_keys"


class Lookup(NamedTuple):
    """How the loop finds a decision: deciders per (phase, agent), read fields, codec, the key
    hash (key -> cell, key -1 empty) and the decision table's cell and outcome columns."""

    dec: np.ndarray        # (phases, n) int64
    reads: np.ndarray      # (deciders, fields) int64: the fields of each decider's mask, first
    nreads: np.ndarray     # (deciders,) int64: how many
    radix: np.ndarray      # (fields,) int64
    offset: np.ndarray     # (fields,) int64
    space: int
    hkeys: np.ndarray      # (capacity,) int64, -1 empty
    hcells: np.ndarray     # (capacity,) int64
    full: np.ndarray       # per cell: the act chosen
    base: np.ndarray       # per cell: its first outcome
    nconf: np.ndarray      # per outcome: conflicts it logs
    gives: np.ndarray      # (phases, 3) share sent or returned per act
    promise_of: np.ndarray  # per act of the promise phase: 1 a promise
    card: np.ndarray       # (fields,) int64
    dstart: np.ndarray     # (deciders,) int64: where the decider's dense cells start, -1 none
    dense: np.ndarray      # cells by the decider's read digits, most significant first; -1 unfiled
    fast: np.ndarray       # (phases, 2E) int64: ``fast_slots`` of each aligned row's agent
    packed: np.ndarray     # per dense cell: ``pack``'s (cell, act, outcome), -1 the generic look-up


class Game(NamedTuple):
    endowment: float
    multiplier: float
    promises: bool
    detect: float
    lie: float


class Board(NamedTuple):
    """The pair table's columns (``ipd_rows.Pairs``, aligned: rows 0..E-1 are (i, j), E..2E-1
    are (j, i)), per row its agent and partner, and per agent payoffs, truth record and group."""

    pr: Pairs
    agent: np.ndarray
    partner: np.ndarray      # per physical row (all rows: the trust metrics read them)
    payoff: np.ndarray
    step_pay: np.ndarray
    truth_kept: np.ndarray
    truth_total: np.ndarray
    group_of: np.ndarray


class Calls(NamedTuple):
    """What the decide calls of a step read and write per game (apart from :class:`Work`: the
    helpers take only the arrays they read, each tuple member costing numba's compiler)."""

    send: np.ndarray         # (E,)
    promised: np.ndarray     # (E,) int64
    chosen: np.ndarray       # (4, E) act per game and phase
    cell: np.ndarray         # (4, E) decision cell per game and phase
    outcome: np.ndarray      # (4, E)
    miss: np.ndarray         # (3, 3E) phase, agent, code of decisions without a cell


class Work(NamedTuple):
    """Per-game buffers of one step, the stretch's role draws and tallies, and metric scratch."""

    flips: np.ndarray        # (K * E,) draws of rng_match, step-major
    inv: np.ndarray          # (E,) investor's row
    tru: np.ndarray          # (E,) trustee's row
    ret: np.ndarray          # (E,)
    acted: np.ndarray        # (E,) games with an investment, in game order
    split: np.ndarray        # (E + 1,) those games by return phase: promised first (a spare slot)
    buf: np.ndarray          # (E,) sums in numpy's order
    seen: np.ndarray         # (E,) a detected broken promise per acted game
    tally: np.ndarray        # (K, len(TALLY))
    conf: np.ndarray         # (5, CONFLICT_ROWS) step, call, agent, partner, outcome
    payrows: np.ndarray      # (K, n) payoffs after each step, for the Gini (summarised stretches)
    trust: np.ndarray        # (rows,)
    gap: np.ndarray          # (rows,)
    real: np.ndarray         # (n,)
    bucket: np.ndarray       # (2E,) each aligned row's trust bucket this step
    tail_t: np.ndarray       # (rows,) trust of the met rows past the aligned ones (``_tail``)
    tail_p: np.ndarray       # (rows,) their partners
    lanes: np.ndarray        # (4, width) outcome counts of a step, by game modulo 4 (``_book``)


def fast_forward(env: TrustGame, model: Any, limit: int) -> Stretch | None:
    """Play up to ``limit`` steps; None when not even the first could be played this way.

    A step at which rewiring may cut ties is rewired here after it is played
    (``SpecModel.step`` rewires after the game, and the engine's metrics read no edge), its
    cuts that step's ``rewired`` counter (NaN, not counted, at the other steps). The stretch
    then goes on over the new edges when only the engine's metrics are collected and no
    learner plays (its records have no per-pair or per-game columns whose width the new graph
    would change); else it ends with that step. The caller has checked that the model is
    eligible (``TrustGame.can_fast_forward``).
    """
    edges = model.edges
    e = len(edges)
    if limit <= 0 or not e:
        return None
    codec = env.codec
    if codec.fields != OBS_FIELDS:
        raise AssertionError(f"the trust-game kernel encodes {OBS_FIELDS}, the environment observes {codec.fields}")
    table = model.decisions
    # Before the records are sized: completing adds outcomes, which need their count columns.
    dec = prepare(env, model)
    hashed = env.kernel_keys  # kept on the environment: later stretches reuse the cells found
    n, rows, groups = len(model.payoff), len(model.pairs), len(model.groups)
    width = table.n_outcomes + OUTCOME_HEADROOM
    summarised = bool(getattr(model, "summarisable", False))
    per_step = 8 * (width + groups + len(SUMMARY) + len(TALLY) + e + (n if summarised else 5 * n + 2 * rows))
    k = max(1, min(limit, RECORD_BUDGET // per_step))
    rec = Stretch.empty(k, width, n, groups, rows, summarised)
    work, calls = _work(np.empty(k * e), k, e, n, rows, summarised, width), _calls(e)
    prm = env.params
    game = Game(float(prm.endowment), float(prm.multiplier), bool(prm.promises), float(prm.detect_prob),
                float(prm.lie_penalty))
    state = np.zeros(5, np.int64)
    lr, memory, created = learners_of(model, len(env.phases), e, k, width)
    fold = summarised and not lr.on
    # The learners' stream: a step left to the generic path gives back the draws it took.
    lrng = model.learning.rng if lr.on else model.rng_detect
    lbefore = lrng.bit_generator.state if lr.on else None
    principles = len(table.principle_ids)
    network, rng = model.network, model.rng_match
    games = np.zeros(k, np.int64)  # edges played per step
    rewired = np.full(k, np.nan)
    while rec.steps < k:
        # A segment: the steps up to and including the next one that may rewire.
        first = rec.steps
        last = min(k, first + network.steps_before_rewire(model.steps + first) + 1)
        if first:  # rewired after the step before: the same loop on the new edges
            edges = model.edges
            e = len(edges)
            if not e:
                break
            model.pairs.align(model.graph_version, edges[:, 0], edges[:, 1])
            work, calls = _rework(work, e, len(model.pairs)), _calls(e)
        board = _board(model)
        # Roles for the segment, drawn as its steps would draw them one after another; the
        # generator is restored below if fewer steps are played.
        before = rng.bit_generator.state
        rng.random(out=work.flips[first * e: last * e])  # the same draws, with no array between
        while rec.steps < last:
            lookup = _lookup(env, model, dec, hashed, board.agent)
            if lr.on:
                lr = lr._replace(tier=table.tier.astype(np.int64), coop=table.outcome_column("coop").astype(np.int64))
            rec.steps = int(_PLAY(rec.steps, last, lookup, game, board, work, calls, rec.arrays, state,
                                  model.rng_detect, (lr.on, lr.row, lr.s, lr.fields, lr.cards),
                                  lr if lr.on else None, memory if lr.on else None, lrng))
            if lr.on and state[DRAWN] != state[DRAWN_DONE]:
                lrng.bit_generator.state = lbefore
                lrng.random(int(state[DRAWN_DONE]))
                state[DRAWN] = state[DRAWN_DONE]
            if state[WHY] == FULL:
                _log(model, work.conf, int(state[LOGGED]))
                state[LOGGED] = 0
            elif state[WHY] == MISSING:
                _fill(env, model, calls.miss[:, : state[MISSED]], hashed)
                if table.n_outcomes > width or len(table.principle_ids) != principles:
                    break  # the records have no room (outcomes, overrides): the generic step plays this one
            else:
                break
        games[first:rec.steps] = e
        if rec.steps < last:
            rng.bit_generator.state = before
            rng.random((rec.steps - first) * e)
            break
        if network.steps_before_rewire(model.steps + last - 1) == 0:
            cut = network.rewire(model.steps + last, model.pairs, model.alive, rng)
            if cut:
                rewired[last - 1] = cut
            if not fold:
                break
    _log(model, work.conf, int(state[LOGGED]))
    hashed.remember()
    table.keep(sparse=True)  # offered to later runs of this population (sim.cell_memo.TABLES)
    if lr.on:
        book_learners(model, lr, created, rec.steps)
    if not rec.steps:
        return None
    if summarised:
        gini_rows(work.payrows[: rec.steps], gini := np.empty(rec.steps))
        rec.arrays.summary[: rec.steps, 1] = gini
    _book_env(env, model, rec, work.tally[: rec.steps], games[: rec.steps])
    counted = ~np.isnan(rewired[: rec.steps])
    if counted.any():
        rec.counters["rewired"] = rewired[: rec.steps].copy()
    # Booked as one block (``sim.summary_book``), ``rewired`` as a sparse counter where it is NaN.
    rec.one_block = summarised
    return rec


def gini_rows(rows: np.ndarray, out: np.ndarray) -> None:
    """``kernel_sums.gini_chunk`` of each row of ``rows`` (overwritten) into ``out``.

    Why: at 10^3 agents numpy's sort of the payoff rows was ~0.1 ms a run (its comparison
    sort: the vectorised one is not used for rows this short). Shifted payoffs are never
    negative, so their IEEE bits sort as unsigned integers: a radix sort of the bits gives
    the same sorted values (up to the sign of a zero, which the running sum does not see),
    and the shift and the sums are ``gini_chunk``'s own compiled helpers, in one call.
    """
    tots = np.empty(len(rows))
    values = np.empty(rows.shape[1])  # a row's values; sorted as their bits (a view of them)
    if not _gini_radix(rows, tots, out, values, values.view(np.uint64), np.empty(rows.shape[1], np.uint64)):
        gini_chunk(rows, tots, out)  # a NaN payoff: numpy's sort places it


#: Bits above which a double is NaN (or negative): its place is not its bits' order.
_NAN_BITS = np.uint64(0x7FF0000000000000)


@njit(**OUTER)
def _gini_radix(rows, tots, out, values, keys, spare):  # pragma: no cover - compiled
    """``gini_chunk`` with a radix sort; False (rows untouched) when a row holds a NaN."""
    if any_nan(rows):
        return False
    m, n = rows.shape
    _gini_shift(rows, tots)
    counts = np.zeros(256, np.int64)
    for j in range(m):
        row = rows[j]
        for i in range(n):
            values[i] = row[i] + 0.0  # -0.0 as 0.0: its bits would sort last
        radix_sort(keys, spare, counts)
        for i in range(n):
            row[i] = values[i]
    _gini_sorted(rows, tots, out)
    return True


def _board(model: Any) -> Board:
    """The loop's view of the pair table (aligned on the edges) and the agents' arrays."""
    agents, _ = model.edge_agents()
    return Board(Pairs(*(model.pairs.cols[c] for c in Pairs._fields)), agents, model.pairs.pairs()[1],
                 model.payoff, model.step_payoff, model.truth_kept, model.truth_total,
                 model.group_of.astype(np.int64))


def prepare(env: TrustGame, model: Any) -> np.ndarray:
    """What a stretch needs before it plays, done once (``TrustGame.setup`` does it at build):
    the kept table of the population, pairs laid out on the edges, the key hash completed for
    few-field deciders; returns the deciders per (phase, agent)."""
    table = model.decisions
    if not table.n_cells:
        table.warm(sparse=True)  # a population an earlier run of the process played: its table, whole
    edges = model.edges
    model.pairs.align(model.graph_version, edges[:, 0], edges[:, 1])
    dec = np.stack([model.decider_of[p] for p in range(len(env.phases))]).astype(np.int64)
    _prepare(env, model, dec, env.kernel_keys)
    codec = env.codec
    env.kernel_keys.dense(np.asarray(codec.card, np.int64), np.asarray(codec.radix, np.int64), int(codec.space))
    return dec


def _work(flips: np.ndarray, k: int, e: int, n: int, rows: int, summarised: bool, width: int) -> Work:
    i64, f64 = np.int64, np.float64
    return Work(flips, np.empty(e, i64), np.empty(e, i64), np.zeros(e, f64), np.empty(e, i64), np.empty(e + 1, i64),
                np.empty(e, f64), np.zeros(e, np.bool_), np.zeros((k, len(TALLY))),
                np.empty((5, CONFLICT_ROWS), i64), np.empty((k if summarised else 0, n)), np.empty(rows),
                np.empty(rows), np.empty(n), np.empty(2 * e, i64), np.empty(rows), np.empty(rows, i64),
                np.zeros((4, width), i64))


def _calls(e: int) -> Calls:
    i64 = np.int64
    return Calls(np.zeros(e), np.zeros(e, i64), np.zeros((4, e), i64), np.zeros((4, e), i64), np.zeros((4, e), i64),
                 np.empty((3, 3 * e), i64))


def _rework(wk: Work, e: int, rows: int) -> Work:
    """``wk`` for ``e`` games over ``rows`` pair rows (after rewiring); the stretch's draws, tallies,
    conflicts and payoff rows carry over (decisions without a cell were filled before)."""
    i64, f64 = np.int64, np.float64
    return wk._replace(inv=np.empty(e, i64), tru=np.empty(e, i64), ret=np.zeros(e, f64), acted=np.empty(e, i64),
                       split=np.empty(e + 1, i64), buf=np.empty(e, f64), seen=np.zeros(e, np.bool_),
                       trust=np.empty(rows), gap=np.empty(rows), bucket=np.empty(2 * e, i64),
                       tail_t=np.empty(rows), tail_p=np.empty(rows, i64))


class Keys:
    """The loop's key hash, (decider, projected code) -> cell, with the fields each decider's
    codes are projected on (``mask``, per decider; only grows) and which deciders have every
    projected key filed (``done``). Entries stay valid as masks grow: an entry was filed when
    its mask covered every field its cell read, and a code agreeing with it on a larger mask
    agrees on those."""

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, table: Any) -> None:
        self.table = table
        kept = None if table is None else table.marks.get(MARK)
        if kept is not None:
            # Filed by an earlier run of this population, whose table this one was started from.
            self.keys, self.cells, self.mask, self.done = (a.copy() for a in kept[:4])
            self.count = kept[4]
        else:
            self.keys = np.full(1 << 12, -1, np.int64)
            self.cells = np.zeros(1 << 12, np.int64)
            self.mask = np.zeros((0, len(table.codec.fields) if table is not None else 0), np.int64)
            self.done = np.zeros(0, np.bool_)
            self.count = 0
        self.kept = self.count
        self._reads: tuple[np.ndarray, np.ndarray] | None = None  # ``reads``' answer while masks hold
        self._dense: tuple[int, np.ndarray, np.ndarray] | None = None  # ``dense``' answer, by ``version``
        self._fast: tuple[int, np.ndarray, np.ndarray] | None = None  # ``fast``' answer, by ``version`` and deciders
        self._packed: tuple[Any, ...] | None = None  # ``packed``' answer, by its arguments
        self.version = 0  # counts changes to the hash and the masks

    def reads(self) -> tuple[np.ndarray, np.ndarray]:
        """Each decider's read fields first, in field order, and how many (kept until a mask changes)."""
        if self._reads is None:
            # A stable sort of "not read" puts each row's read fields first, in field order.
            self._reads = (np.argsort(1 - self.mask, axis=1, kind="stable").astype(np.int64), self.mask.sum(axis=1))
        return self._reads

    def dense(self, card: np.ndarray, radix: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
        """Per decider whose projected codes are all filed (``done``), its cells laid out by the
        digits of its read fields (``reads``' order, the last fastest), and where each decider's
        start (-1: looked up in the hash). Why: a cell read from this small array costs less than
        a probe of the hash, which outgrows the first-level cache (kept while nothing changes)."""
        if self._dense is None or self._dense[0] != self.version:
            reads, nreads = self.reads()
            # Deciders by the fields they read (most read the same few): one layout each.
            by_fields: dict[tuple[int, ...], list[int]] = {}
            for d in np.flatnonzero(self.done).tolist():
                by_fields.setdefault(tuple(reads[d, :nreads[d]].tolist()), []).append(d)
            start = np.full(len(nreads), -1, np.int64)
            parts, at = [], 0
            for fields, ds in by_fields.items():
                f = np.array(fields, np.int64)
                codes = (radix[f] @ np.indices(tuple(card[f].tolist())).reshape(len(f), -1) if len(f)
                         else np.zeros(1, np.int64))  # a decider reading nothing: one code
                if len(codes) > COMPLETE_LIMIT:
                    continue
                who = np.array(ds, np.int64)
                start[who] = at + len(codes) * np.arange(len(who))
                parts.append((who[:, None] * space + codes[None, :]).reshape(-1))
                at += len(who) * len(codes)
            keys = np.concatenate(parts) if parts else np.zeros(0, np.int64)
            cells = hashing.find(self.keys, self.cells, keys)
            self._dense = (self.version, start, cells)
        return self._dense[1], self._dense[2]

    def fast(self, dec: np.ndarray, dstart: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """``fast_slots`` of the deciders ``dec`` (kept while the hash, the masks and ``dec`` hold)."""
        if self._fast is None or self._fast[0] != self.version or self._fast[1] is not dec:
            reads, nreads = self.reads()
            self._fast = (self.version, dec, fast_slots(dec, reads, nreads, dstart, offset))
        return self._fast[2]

    def packed(self, dense: np.ndarray, full: np.ndarray, base: np.ndarray) -> np.ndarray:
        """``pack`` of the dense cells (kept while they, the acts and the outcomes are the same arrays)."""
        got = self._packed
        if got is None or got[0] is not dense or got[1] is not full or got[2] is not base:
            self._packed = got = (dense, full, base, pack(dense, full, base))
        out: np.ndarray = got[3]
        return out

    def put(self, keys: np.ndarray, cells: np.ndarray) -> None:
        self.version += 1
        if 2 * (self.count + len(keys)) > len(self.keys):
            size = len(self.keys)
            while 2 * (self.count + len(keys)) > size:
                size *= 2
            old_k, old_c = self.keys, self.cells
            self.keys, self.cells = np.full(size, -1, np.int64), np.zeros(size, np.int64)
            live = old_k >= 0
            hashing.put(self.keys, self.cells, old_k[live], old_c[live])
        self.count += int(hashing.put(self.keys, self.cells, keys, cells))

    def grow(self, deciders: int, fields: int) -> None:
        """Room for ``deciders`` (new ones: no fields, nothing filed)."""
        have = len(self.done)
        if deciders > have:
            self.version += 1
            mask = np.zeros((deciders, fields), np.int64)
            mask[:have] = self.mask[:have]
            self.mask = mask
            self.done = np.concatenate([self.done, np.zeros(deciders - have, np.bool_)])
            self._reads = None

    def widen(self, table: Any, deciders: np.ndarray) -> np.ndarray:
        """Take in the fields ``deciders``' cells have read so far; returns those whose mask grew."""
        rows = table.read_mask_of(deciders)
        grown = (rows & (1 - self.mask[deciders])).any(axis=1)
        changed = deciders[grown]
        self.mask[changed] |= rows[grown]
        self.done[changed] = False
        if len(changed):
            self._reads = None
            self.version += 1
        return changed

    def remember(self) -> None:
        """File the hash with the table (``DecisionTable.marks``), so a run started from it has it."""
        if self.count != self.kept:
            self.table.marks[MARK] = (self.keys.copy(), self.cells.copy(), self.mask.copy(), self.done.copy(),
                                      self.count)
            self.kept = self.count


def fast_slots(dec: np.ndarray, reads: np.ndarray, nreads: np.ndarray, dstart: np.ndarray,
               offset: np.ndarray) -> np.ndarray:
    """Per (phase, agent) whose decider has dense cells and reads nothing or only trust, where its
    cells start (the trust field's offset added) times 2, plus 1 when it reads trust; else -1.

    Why: most deciders read trust alone, and the generic look-up (decider, its fields one by one,
    the bucket's division, then the dense cell) was a chain of dependent loads per decision, most
    of a step; ``_decide`` then reads its row's slot and bucket (``_play`` buckets rows once a step).
    """
    trust = OBS_FIELDS.index("trust")
    on_trust = (nreads == 1) & (reads[:, 0] == trust) if reads.shape[1] else np.zeros(len(nreads), np.bool_)
    ok = (dstart >= 0) & ((nreads == 0) | on_trust)
    slot = np.where(ok, 2 * (dstart + np.where(on_trust, offset[trust], 0)) + on_trust, -1)
    return slot[dec].astype(np.int64)


def pack(dense: np.ndarray, full: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Each dense cell with its act and first outcome folded in: ``cell | act << 24 | (base + act)
    << 32`` (-1 where the cell is not filed, or everywhere when one does not fit its bits).

    Why: after the slot and the bucket, the cell's act and outcome were two more dependent
    loads per decision; one load of its packed entry gives all three.
    """
    ok = dense >= 0
    cells = np.where(ok, dense, 0)
    act = full[cells].astype(np.int64)
    out = base[cells].astype(np.int64) + act
    if len(dense) and not (int(cells.max()) < 1 << 24 and int(act.min()) >= 0 and int(act.max()) < 1 << 8
                           and int(out.min()) >= 0 and int(out.max()) < 1 << 31):
        return np.full(len(dense), -1, np.int64)
    return np.where(ok, cells | act << 24 | out << 32, -1).astype(np.int64)


def _lookup(env: TrustGame, model: Any, dec: np.ndarray, hashed: Keys, agent: np.ndarray) -> Lookup:
    table, codec = model.decisions, env.codec
    reads, nreads = hashed.reads()
    card, radix = np.asarray(codec.card, np.int64), np.asarray(codec.radix, np.int64)
    space = int(codec.space)
    dstart, dense = hashed.dense(card, radix, space)
    offset = np.asarray(codec.offset, np.int64)
    # ``np.take`` along the agents: a third of the time of ``[:, agent]`` (~50 us a segment at
    # 10^3 agents), and C-ordered rows for the loop.
    return Lookup(dec, reads, nreads, radix, offset, space, hashed.keys, hashed.cells,
                  table.full, table.base, table.outcome_column("nconf"), env.gives_table, env.promise_table, card,
                  dstart, dense, np.take(hashed.fast(dec, dstart, offset), agent, axis=1),
                  hashed.packed(dense, table.full, table.base))


def _prepare(env: TrustGame, model: Any, dec: np.ndarray, hashed: Keys) -> None:
    """The hash for this table, and every projected code of few-field deciders filed.

    A decider whose mask has at most ``COMPLETE_LIMIT`` combinations gets the cells of all its
    projected codes now, each through the chain of command once (again while a new cell reads
    a field no earlier one did): trust drifting into a new bucket then never stops the loop.
    The codes may be observations no run meets; policies and checks answer any code of the
    space (the conformance kit samples the whole space). Masks are not refreshed for deciders
    already done: a look-up projected on a mask narrower than the decider's fields is still
    sound (see ``Keys``), and a code it misses is filled as met.
    """
    table, codec = model.decisions, env.codec
    if hashed.table is not table:
        hashed.reset(table)
    hashed.grow(len(table.deciders), len(codec.fields))
    if hashed.done.all():
        return  # every decider's projected keys are filed (a later stretch, a kept table)
    # The phases this game decides in (without promises: the send and the silent return).
    used = range(dec.shape[0]) if env.params.promises else (1, 3)
    card = np.asarray(codec.card, np.int64)
    space = int(codec.space)
    for phase in used:
        ds = unique(dec[phase])
        while True:
            todo = np.array([d for d in ds[~hashed.done[ds]].tolist()
                             if int(np.prod(card[hashed.mask[d] == 1])) <= COMPLETE_LIMIT], np.int64)
            if not len(todo):
                break
            deciders, codes = _all_codes(codec, hashed.mask, todo.tolist())
            cells = table.cells(phase, deciders, codes)
            changed = hashed.widen(table, todo)
            # Deciders whose mask held file their codes; the others go round with the wider mask.
            ok = ~np.isin(deciders, changed)
            hashed.put(deciders[ok] * space + codes[ok], np.asarray(cells, np.int64)[ok])
            hashed.done[todo[~np.isin(todo, changed)]] = True
            hashed.version += 1


def _all_codes(codec: Any, mask: np.ndarray, deciders: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Every code projected on each decider's mask (other digits 0), with its decider."""
    out_d, out_c = [], []
    for d in deciders:
        fields = np.flatnonzero(mask[d])
        sizes = tuple(codec.card[f] for f in fields)
        digits = np.indices(sizes).reshape(len(sizes), -1) if sizes else np.zeros((0, 1), np.int64)
        codes = np.zeros(digits.shape[1], np.int64)
        for f, row in zip(fields.tolist(), digits, strict=True):
            codes += row * codec.radix[f]
        out_d.append(np.full(len(codes), d, np.int64))
        out_c.append(codes)
    return np.concatenate(out_d), np.concatenate(out_c)


def _fill(env: TrustGame, model: Any, miss: np.ndarray, hashed: Keys) -> None:
    """Give the listed decisions' keys their cells the generic way, and file them in the hash.

    The real code first (the cell a generic step would compute), then the code projected on
    the decider's mask, which is what the loop looks up; while a new cell widens a mask, the
    projection is taken again.
    """
    table, codec = model.decisions, env.codec
    space = int(codec.space)
    for phase in unique(miss[0]).tolist():
        sel = miss[0] == phase
        deciders = model.decider_of[phase][miss[1, sel]].astype(np.int64)
        first = unique(deciders * space + miss[2, sel])
        deciders, codes = first // space, first % space
        table.cells(phase, deciders, codes)
        while True:
            hashed.widen(table, unique(deciders))
            projected = _project(codec, codes, hashed.mask[deciders])
            cells = table.cells(phase, deciders, projected)
            if not len(hashed.widen(table, unique(deciders))):
                break
        hashed.put(deciders * space + projected, np.asarray(cells, np.int64))


def _project(codec: Any, codes: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``codes`` with the digits of fields not kept set to 0 (``scenarios.ipd_kernel.project``)."""
    out = np.zeros_like(codes)
    for f, (r, c) in enumerate(zip(codec.radix, codec.card, strict=True)):
        out += (codes // r % c) * r * keep[:, f]
    return out


def _log(model: Any, conf: np.ndarray, rows: int) -> None:
    """Hand the loop's conflict rows to the event log, one decide call at a time (stepping's order)."""
    if not rows:
        return
    nconf = model.decisions.outcome_column("nconf")
    c = conf[:, :rows]
    call = c[0] * 4 + c[1]
    cuts = np.flatnonzero(np.diff(call)) + 1
    for lo, hi in zip(np.concatenate([[0], cuts]).tolist(), np.concatenate([cuts, [rows]]).tolist(), strict=True):
        model.log.conflicts(model.steps + int(c[0, lo]) + 1, c[2, lo:hi].copy(), c[3, lo:hi].copy(),
                            c[4, lo:hi].copy(), nconf)


def _book_env(env: TrustGame, model: Any, rec: Stretch, tally: np.ndarray, edges: np.ndarray) -> None:
    """The environment's counters, metrics and run totals of the stretch, as its steps leave
    them; ``edges``: games per step (rewiring inside the stretch changes them, and the bounds).
    Column by column: the same divisions and products as ``TrustGame._shares`` and ``step``."""
    prm = env.params
    games = edges.astype(np.float64)
    trustees = games if prm.promises else np.zeros(len(games))
    sent, invested, returned, promised = tally[:, 0], tally[:, 1], tally[:, 2], tally[:, 3]
    cols = {"games": games, "sent": sent, "invested": invested, "returned": returned, "trustees": trustees,
            "promised": promised}
    run = env._run
    for name, col in cols.items():
        total_ = run[name]
        for v in col.tolist():  # step by step, as each step adds its own
            total_ += v
        run[name] = total_
    env._step = {name: float(col[-1]) for name, col in cols.items()}
    if bool((edges != edges[0]).any()):  # the graph changed inside the stretch
        rec.bounds = np.array([(prm.endowment * e, prm.multiplier * prm.endowment * e) for e in edges.tolist()])
    e = int(edges[-1])
    env.bounds = (prm.endowment * e, prm.multiplier * prm.endowment * e)
    rec.env_metrics = {"sent_share": _share(sent, games), "return_share": _share(returned, invested),
                       "promise_rate": _share(promised, trustees)}
    # In the order a step counts them (``_learn`` before ``_tally``).
    rec.counters = {"promises_broken": tally[:, 4].copy(), "promises_made": tally[:, 3].copy()}


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """``part / whole`` per step, NaN where ``whole`` is 0 (``TrustGame._shares``)."""
    out = np.full(len(part), np.nan)
    np.divide(part, whole, out=out, where=whole != 0)
    return out


# --- compiled -------------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _bucket(kept, broken):  # pragma: no cover - compiled
    """The trust bucket of a row's (kept, broken) evidence, as ``TrustGame._observe`` floors it.
    Scalars, not the columns: an inlined helper's array arguments cost an atomic reference
    count each per call."""
    return np.int64(np.floor((kept + 1.0) / (kept + broken + 2.0) * TRUST_BUCKETS + BUCKET_EPS))


@njit(cache=True, nogil=True, inline="always")
def _field(f, stage, sent, promised, r, o, kept, broken, last, last2, defected, good, turns):  # pragma: no cover
    """Observation field ``f`` (``OBS_FIELDS`` order; coin 0) of the decider owning row ``r``
    against row ``o``: read only when a decision needs it (most read one field of eleven)."""
    if f == 9:
        return _bucket(kept[r], broken[r])
    if f == 0:
        return np.int64(stage)
    if f == 1:
        return np.int64(promised)
    if f == 2:
        return np.int64(sent)
    if f == 3:
        return np.int64(last[r])
    if f == 4:
        return np.int64(last[o])
    if f == 5:
        return np.int64(last2[o])
    if f == 6:
        return np.int64(defected[o])
    if f == 7:
        return np.int64(good[r])
    if f == 8:
        return np.int64(turns[r] % 2)
    return np.int64(0)


@njit(**INNER)
def _decide(lk, pr, agent, cl, seat, phase, games, count, mine, theirs, stage, sent_of, state,
            bucket):  # pragma: no cover
    """Act and outcome (``cl.chosen``, ``cl.outcome``) of ``phase`` for games ``games[:count]``,
    whose decider owns row ``mine[g]`` against row ``theirs[g]``; lists decisions without a cell
    (``state[MISSED]`` of them). ``seat``: the learners' (on, row, state per game, fields, cards)."""
    # Arrays read from the named tuples once: a field read in the per-game loop costs a
    # reference count each time.
    radix = lk.radix
    offset = lk.offset
    dec = lk.dec
    reads = lk.reads
    nreads = lk.nreads
    hkeys = lk.hkeys
    hcells = lk.hcells
    full = lk.full
    base = lk.base
    space = lk.space
    card = lk.card
    dstart = lk.dstart
    dense = lk.dense
    fast = lk.fast
    packed = lk.packed
    kept, broken = pr.kept, pr.broken
    last = pr.last
    last2 = pr.last2
    defected = pr.defected
    good = pr.good
    turns = pr.turns
    send = cl.send
    promised = cl.promised
    miss = cl.miss
    cellw = cl.cell
    chosen = cl.chosen
    outcome = cl.outcome
    lon = seat[0]
    lrow = seat[1]
    ls = seat[2]
    lfields = seat[3]
    lcards = seat[4]
    nfields = len(OBS_FIELDS)
    hmask = hkeys.shape[0] - 1
    hshift = shift_of(hkeys.shape[0])
    if not lon:
        # Every decision from its packed cell when each has one (the slot and the bucket: most
        # deciders read trust alone), in a loop that reads nothing else; else the loop below
        # decides them all (the same values again, and the misses listed once).
        packed_all = True
        ph = _u(phase)
        for q in range(count):
            g = _u(games[q])
            r = _u(mine[g])
            slot = fast[ph, r]
            pk = packed[_u((slot >> 1) + (slot & 1) * np.int64(bucket[r]))] if slot >= 0 else np.int64(-1)
            if pk < 0:
                packed_all = False
                break
            cellw[ph, g] = pk & 0xFFFFFF
            chosen[ph, g] = (pk >> 24) & 0xFF
            outcome[ph, g] = pk >> 32
        if packed_all:
            return
    for q in range(count):
        g = games[q]
        r = mine[g]
        o = theirs[g]
        a = agent[r]
        sent = 0
        if sent_of:
            sent = 2 if send[g] >= 1.0 else 1
        said = promised[g]
        slot = fast[phase, r]
        # The packed cell of a decider reading trust or nothing (``fast_slots``, ``pack``), else
        # the cell as below.
        pk = packed[(slot >> 1) + (slot & 1) * np.int64(bucket[r])] if slot >= 0 else np.int64(-1)
        cell = pk & 0xFFFFFF if pk >= 0 else np.int64(-1)
        act = (pk >> 24) & 0xFF
        out = pk >> 32
        if cell < 0:
            d = dec[phase, a]
            projected = 0
            digits = 0
            for t in range(nreads[d]):  # only the fields the decider's mask holds
                f = reads[d, t]
                if f == 9:
                    # Not through ``_field``: its array arguments cost a reference count each per
                    # call (most deciders read only trust).
                    v = _bucket(kept[r], broken[r])
                else:
                    v = _field(f, stage, sent, said, r, o, kept, broken, last, last2, defected, good, turns)
                projected += (v + offset[f]) * radix[f]
                digits = digits * card[f] + v + offset[f]
            cell = dense[dstart[d] + digits] if dstart[d] >= 0 else np.int64(-1)
            if cell < 0:
                key = d * space + projected
                # ``agents.hashing.find``, written out for the same reason.
                i = key_slot(key, hshift)
                while hkeys[i] != key and hkeys[i] != -1:
                    i = (i + 1) & hmask
                cell = hcells[i] if hkeys[i] == key else np.int64(-1)
            if cell >= 0:
                act = np.int64(full[cell])
                out = base[cell] + act
        if cell < 0:
            code = 0
            for f in range(nfields):
                v = _field(f, stage, sent, said, r, o, kept, broken, last, last2, defected, good, turns)
                code += (v + offset[f]) * radix[f]
            m = state[MISSED]
            miss[0, m] = phase
            miss[1, m] = a
            miss[2, m] = code
            state[MISSED] = m + 1
            continue
        cellw[phase, g] = cell
        if lon and lrow[a] >= 0:
            # The learner's state (``Learning._states``), here: a call per decision copies ``lr``.
            sv = 0
            for t in range(lfields.shape[0]):
                f = lfields[t]
                if f == 4:  # partner_last, written out (see the trust field above)
                    v = np.int64(last[o])
                else:
                    v = _field(f, stage, sent, said, r, o, kept, broken, last, last2, defected, good, turns)
                sv = sv * lcards[t] + v + offset[f]
            ls[phase, g] = sv
        chosen[phase, g] = act
        outcome[phase, g] = out


@njit(**INNER)
def _book(outcome, lanes, nconf, conf, agent, k, phase, games, count, decider_rows, partner_rows,
          state):  # pragma: no cover - compiled
    """Count the outcomes of one decide call in ``lanes`` (folded into the step's counts by
    ``_play``) and list its conflicts (stepping's order)."""
    ph = _u(phase)
    for q in range(count):
        g = _u(games[q])
        out = outcome[ph, g]
        o = _u(out)  # outcomes are never negative
        # Four counters per outcome, in turn: most games of a call share an outcome, and one
        # counter's increments wait on each other (a store, then its load), ~5 cycles a game.
        lanes[q & 3, o] += 1
        if nconf[o] > 0:
            c = state[LOGGED]
            conf[0, c] = k
            conf[1, c] = phase
            conf[2, c] = agent[decider_rows[g]]
            conf[3, c] = agent[partner_rows[g]]
            conf[4, c] = out
            state[LOGGED] = c + 1


@njit(**OUTER)
def _play(k0, k_max, lk, gm, bd, wk, cl, rec, state, detect_rng, seat, lr, mem, lrng):  # pragma: no cover
    """Play steps ``k0``..``k_max - 1``; returns the next step (``state[WHY]`` says why it stopped).

    ``seat``: what ``_decide`` reads of the learners; ``lr`` and ``mem`` (``Learners``, ``Memory``)
    are None when no learner plays: numba then drops their code when it types the loop, and
    ``choose`` and ``learn`` are not compiled at all.
    """
    e = wk.inv.shape[0]
    n = bd.payoff.shape[0]
    width = rec.counts.shape[1]
    summarised = rec.summary.shape[1] > 0
    state[WHY] = 0
    everyone = np.arange(e)
    # Phases as int64 variables, not literals: numba compiles a callee once per literal value.
    p0 = np.int64(0)
    p1 = np.int64(1)
    p2 = np.int64(2)
    # Arrays read from the named tuples once (a field read in a loop costs a reference count);
    # the helpers get the arrays they read, not whole tuples (each member costs compiling).
    flips = wk.flips
    inv = wk.inv
    tru = wk.tru
    ret = wk.ret
    acted_games = wk.acted
    split = wk.split
    conf = wk.conf
    promised = cl.promised
    chosen = cl.chosen
    outcome = cl.outcome
    send = cl.send
    gives = lk.gives
    promise_of = lk.promise_of
    nconf = lk.nconf
    base = lk.base
    agent = bd.agent
    pr = bd.pr
    payoff = bd.payoff
    step_pay = bd.step_pay
    group_of = bd.group_of
    counts, group_sums = rec.counts, rec.group_sums
    bucket = wk.bucket
    lanes = wk.lanes
    kept = pr.kept
    broken = pr.broken
    # The rows past the aligned ones are not played until the next alignment: their trust once.
    ntail = _tail(kept, broken, pr.turns, bd.partner, 2 * e, wk.tail_t, wk.tail_p) if summarised else np.int64(0)
    # Whether ``bucket`` already holds the rows' buckets for the step to come (``_trust_rows``
    # leaves them after a step; not yet at the first step of a call).
    bucketed = False
    # One exit, the loop's test: a stop sets ``end`` to its step. A ``return`` (or ``break``) in
    # the loop would have numba release every live array there, each exit a copy of that code.
    k, end = k0, k_max
    while k < end:
        if state[LOGGED] + 3 * e > conf.shape[1]:
            state[WHY] = FULL
            end = k
            continue
        state[MISSED] = 0
        if lr is not None:
            lr.novr[k] = 0
            for o in range(lr.ovr.shape[1]):
                lr.ovr[k, o] = 0
            for i in range(n):
                lr.cnt[i] = 0
        for g in range(e):
            flip = flips[k * e + g] < 0.5
            inv[g] = g + e if flip else g
            tru[g] = g if flip else g + e
            promised[g] = 0
        # Each aligned row's trust bucket, once: the decide calls read it up to three times a game.
        # After a summarised step ``_trust_rows`` has left them (its division serves both).
        if not bucketed:
            for x in range(2 * e):
                bucket[x] = _bucket(kept[x], broken[x])
        # Decide everything first and change nothing: a step the loop cannot play is left whole.
        # Phases in loops, one call site a helper: a call passing this many arrays is hundreds of
        # instructions to compile. First the promise (with promises) and the investment.
        stop = False
        for ph in range(2):
            if ph == 0 and not gm.promises:
                continue
            mine = inv if ph == 1 else tru
            theirs = tru if ph == 1 else inv
            _decide(lk, pr, agent, cl, seat, ph, everyone, e, mine, theirs, ph, p0, state, bucket)
            if state[MISSED]:
                stop = True
                break
            if lr is not None and not choose(lr, mem.seen[ph], mem.u[ph], base, agent, cl, k, ph, everyone, e, mine,
                                             lrng, state):
                stop = True
                break
            if ph == 0:
                for g in range(e):
                    promised[g] = promise_of[chosen[0, g]]
        if stop:
            state[WHY] = MISSING
            end = k
            continue
        # The games listed without a branch: which games send, and which promised, follow the
        # agents' choices, a mispredicted branch every other game. Each game is written at the
        # list's end, which moves on only when it belongs there (``split`` has a spare slot).
        acted = np.int64(0)
        for g in range(e):
            send[g] = gives[1, _u(chosen[1, g])]
            ret[g] = 0.0
            acted_games[acted] = g
            acted += send[g] > 0
        said = np.int64(0)
        for q in range(acted):
            g = acted_games[q]
            split[said] = g
            said += promised[_u(g)] != 0
        silent = said
        for q in range(acted):
            g = acted_games[q]
            split[silent] = g
            silent += promised[_u(g)] == 0
        # The returns: of promised games (phase 2, ``split[:said]``), then of the others (phase 3).
        for ph in range(2, 4):
            lo, hi = _span(ph, e, said, acted)
            _decide(lk, pr, agent, cl, seat, ph, split[lo:], hi - lo, tru, inv, p2, p1, state, bucket)
        stop = state[MISSED] > 0
        if lr is not None:
            ph = p2
            while ph < 4 and not stop:
                lo, hi = _span(ph, e, said, acted)
                stop = not choose(lr, mem.seen[ph], mem.u[ph], base, agent, cl, k, ph, split[lo:], hi - lo, tru, lrng,
                                  state)
                ph += 1
        if stop:
            state[WHY] = MISSING
            end = k
            continue
        wide = False
        for p in range(4):
            for g in range(e):
                if outcome[p, g] >= width:
                    wide = True
        if wide:
            state[WHY] = MISSING  # outcomes past the records' width: the wrapper ends here
            state[MISSED] = 0
            end = k
            continue
        # The step is decided: book it (the decide calls' order: promise, send, returns).
        for ph in range(4):
            if ph == 0 and not gm.promises:
                continue
            games = everyone if ph < 2 else split
            lo, hi = _span(ph, e, said, acted)
            mine = inv if ph == 1 else tru
            theirs = tru if ph == 1 else inv
            _book(outcome, lanes, nconf, conf, agent, k, ph, games[lo:], hi - lo, mine, theirs, state)
        for o in range(width):
            counts[k, o] += lanes[0, o] + lanes[1, o] + lanes[2, o] + lanes[3, o]
            lanes[0, o] = 0
            lanes[1, o] = 0
            lanes[2, o] = 0
            lanes[3, o] = 0
        for q in range(said):
            g = _u(split[q])
            ret[g] = gives[2, _u(chosen[2, g])]
        for q in range(said, acted):
            g = _u(split[q])
            ret[g] = gives[3, _u(chosen[3, g])]
        _settle(gm, bd, send, promised, inv, tru, ret, acted_games, wk.seen, wk.buf, wk.tally, k, acted, detect_rng)
        if lr is not None:
            for ph in range(4):
                if ph == 0 and not gm.promises:
                    continue
                games = everyone if ph < 2 else split
                lo, hi = _span(ph, e, said, acted)
                mine = inv if ph == 1 else tru
                learn(lr, mem.seen[ph], mem.u[ph], mem.tried[ph], agent, step_pay, cl, ph, games[lo:], hi - lo, mine,
                      gm.promises)
            state[DRAWN_DONE] = state[DRAWN]
        for i in range(n):
            payoff[i] += step_pay[i]
            group_sums[k, _u(group_of[i])] += payoff[i]
        if summarised:
            rec.summary[k, 0] = total(step_pay, n)
            payrows = wk.payrows
            for i in range(n):
                payrows[k, i] = payoff[i]  # Gini: sorted by numpy after the loop (``gini_chunk``)
            mean, cal = _trust_rows(pr.kept, pr.broken, pr.turns, bd.partner, bd.truth_kept, bd.truth_total,
                                    wk.trust, wk.gap, wk.real, 2 * e, wk.tail_t, wk.tail_p, ntail, bucket)
            bucketed = True
            rec.summary[k, 2] = mean
            rec.summary[k, 3] = cal
        else:
            record_agents(rec, k, step_pay, payoff, bd.truth_kept, bd.truth_total)
            record_pairs(rec, k, pr.kept, pr.broken, pr.turns, pr.kept.shape[0])
        k += 1
    return k


@njit(**INNER)
def _tail(kept, broken, turns, partner, lo, tail_t, tail_p):  # pragma: no cover - compiled
    """Trust and partner of each met row from ``lo`` on, in row order; returns how many."""
    c = np.int64(0)
    for p in range(lo, kept.shape[0]):
        if turns[p] > 0:
            tail_t[c] = (kept[p] + 1.0) / (kept[p] + broken[p] + 2.0)
            tail_p[c] = partner[p]
            c += 1
    return c


@njit(**INNER)
def _trust_rows(kept, broken, turns, partner, truth_kept, truth_total, buf, gap, real, lo, tail_t, tail_p,
                ntail, bucket):  # pragma: no cover - compiled
    """``kernel_sums.trust_step`` with the met rows from ``lo`` on given by ``_tail``; leaves the
    trust bucket of each row before ``lo`` in ``bucket`` (``_bucket`` of the same quotient: the
    next step reads them, and nothing changes the rows in between).

    Why: the pair table keeps every pair ever met (four times the step's rows by the end of a
    run at 10^3 agents), and only the aligned rows change in a segment; each row's trust was a
    division, every step. The same values in the same order, so the same sums; the partners
    without a record yet are left out of the gaps as they are written, not in a pass after.
    """
    for i in range(truth_total.shape[0]):
        real[i] = truth_kept[i] / truth_total[i] if truth_total[i] > 0 else -1.0
    m = np.int64(0)
    c = np.int64(0)
    for p in range(lo):
        t = (kept[p] + 1.0) / (kept[p] + broken[p] + 2.0)
        bucket[p] = np.int64(np.floor(t * TRUST_BUCKETS + BUCKET_EPS))
        if turns[p] > 0:
            buf[_u(m)] = t
            m += 1
            r = real[_u(partner[p])]
            g = abs(t - r) if r >= 0.0 else -1.0  # NaN (as -1) left out, as ``trust_step`` leaves it
            if g >= 0.0:
                gap[_u(c)] = g
                c += 1
    for q in range(ntail):
        buf[_u(m + q)] = tail_t[q]
    for q in range(ntail):
        r = real[_u(tail_p[q])]
        g = abs(tail_t[q] - r) if r >= 0.0 else -1.0
        if g >= 0.0:
            gap[_u(c)] = g
            c += 1
    m += ntail
    if m == 0:
        return np.nan, np.nan
    mean = total(buf, m) / m
    cal = np.nan if c == 0 else 1.0 - total(gap, c) / c
    return mean, cal


@njit(cache=True, nogil=True, inline="always")
def _span(ph, e, said, acted):  # pragma: no cover - compiled
    """Where decide call ``ph``'s games lie: ``everyone[:e]`` (the promise, the investment),
    ``split[:said]`` (returns of promised games), ``split[said:acted]`` (the others)."""
    if ph < 2:
        return np.int64(0), e
    if ph == 2:
        return np.int64(0), said
    return said, acted


#: ``_play`` without the dispatcher's typing of its two generators per call (``agents.kernel_entry``).
_PLAY = Entry(_play)


@njit(**INNER)
def _settle(gm, bd, send, promised, inv, tru, ret, acted_games, seen, buf, tally, k, acted,
            detect_rng):  # pragma: no cover - compiled
    """Payoffs, pair memory, evidence, truth and tallies of a decided step (``TrustGame.step``'s
    settle, ``_learn`` and ``_tally``, in their order where the order rounds)."""
    e = inv.shape[0]
    agent = bd.agent
    step_pay = bd.step_pay
    truth_kept = bd.truth_kept
    truth_total = bd.truth_total
    kept, broken = bd.pr.kept, bd.pr.broken
    last = bd.pr.last
    last2 = bd.pr.last2
    defected = bd.pr.defected
    good = bd.pr.good
    turns = bd.pr.turns
    endowment, multiplier = gm.endowment, gm.multiplier
    for i in range(step_pay.shape[0]):
        step_pay[i] = 0.0
    # ``add_payoff``: a bincount over [investors; trustees], so investors' payoffs first.
    for g in range(e):
        sent = send[g] * endowment
        back = ret[g] * (multiplier * sent)
        step_pay[_u(agent[_u(inv[g])])] += endowment - sent + back
    for g in range(e):
        sent = send[g] * endowment
        grown = multiplier * sent
        step_pay[_u(agent[_u(tru[g])])] += grown - ret[g] * grown
    # Branchless here and below: whether a game sent, was repaid or broke a word follows the
    # agents' choices, and a branch on it was mispredicted every other game.
    broken_words = np.int64(0)
    for q in range(acted):
        g = acted_games[q]
        word = (promised[g] != 0) & (ret[g] <= 0)
        seen[q] = word
        broken_words += word
    if broken_words:
        # ``rng_detect.random(len(acted))``: one draw per acted game, only when a word is broken.
        for q in range(acted):
            u = detect_rng.random()
            seen[q] = seen[q] and u < gm.detect
    said = np.int64(0)
    for g in range(e):
        invested = send[g] > 0
        r = _u(inv[g])
        repaid = ret[g] > 0
        # ``_remember``, written out (an inlined helper's array arguments cost atomic reference counts).
        last2[r] = last[r]
        last[r] = 1 if invested else 0
        d = defected[r]
        defected[r] = d if invested else 1
        good[r] = 1 if invested & repaid else 0
        turns[r] += 1
        t = _u(tru[g])
        kept[t] += 1.0 if invested else 0.0
        broken[t] += 0.0 if invested else 1.0
        a = _u(agent[r])
        truth_kept[a] += 1.0 if invested else 0.0
        truth_total[a] += 1.0
        said += promised[g]
    lie = gm.lie
    for q in range(acted):
        g = _u(acted_games[q])
        t = _u(tru[g])
        repaid = ret[g] > 0
        last2[t] = last[t]
        last[t] = 1 if repaid else 0
        d = defected[t]
        defected[t] = d if repaid else 1
        good[t] = 1
        turns[t] += 1
        r = _u(inv[g])
        kept[r] += 1.0 if repaid else 0.0
        broken[r] += (0.0 if repaid else 1.0) + lie * (1.0 if seen[q] else 0.0)
        a = _u(agent[t])
        truth_kept[a] += 1.0 if repaid else 0.0
        truth_total[a] += 1.0
    tally[k, 0] = total(send, e)  # every game's share sent, in game order
    tally[k, 1] = acted
    for q in range(acted):
        buf[q] = ret[acted_games[q]]
    tally[k, 2] = total(buf, acted)
    tally[k, 3] = said
    tally[k, 4] = broken_words
