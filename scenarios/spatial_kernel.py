"""The spatial-PD fast-forward: play, imitation and the step's records in one compiled loop.

Why: a generic step of Nowak and May's game at a million agents handles nine
million games through ``model.decide`` (keys, cells, outcomes, ``bincount``s)
and then the imitation update, about twenty full-size array passes; this loop
does the same work in two passes over the agents, in place.

Decisions still come from the chain of command: the loop reads the decision
table's dense look-up table (one cell per (decider, observation code), each
computed once by the resolver) and each cell's act and outcome, exactly as
``SpecModel.decide`` does. Imitation mirrors ``sim.evolution`` (imitate-the-best,
synchronous, every ``every`` steps); after an update each agent's decider is
that of its new type (group and traits), from a small table of the deciders
``sim.evolution`` made for every type met so far.

The loop decides every game of a step before it changes anything. It stops
early, and the driver below repairs the state before going on, at:
``MISSING`` (a key without a cell: the step's keys get cells the generic way),
``NEW_TYPE`` (after a step whose update made a type without a decider:
``Evolution._assign`` makes it), ``FIXED`` (one type took over: the fixation
event is logged at its step), and ``CONFLICT`` (a decision logs a conflict:
the generic step plays it). Results equal stepping one at a time
(``tests/test_spatial_kernel.py``).

What the loop cannot play falls back to the generic step: :func:`unsupported`
is the one list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from agents.jit import INNER, OUTER, njit
from scenarios.ipd_kernel import project
from scenarios.kernel_sums import _gini_shift, _gini_sorted, total
from scenarios.stretch import SUMMARY, Stretch

if TYPE_CHECKING:
    from scenarios.spatial_pd import SpatialPD

#: Bytes of per-step records a stretch may hold (two (n,) float rows a step, plus counts).
RECORD_BUDGET = 128 << 20
#: Bytes of the payoff rows a summarised stretch sorts at a time (numpy's sort, for the Gini).
CHUNK_BYTES = 16 << 20
#: Most games per agent whose payoff sums are tabled (2 * (b + 1) * 2^b floats; beyond, summed in turn).
SUM_BITS = 12
#: Outcomes that new keys may add before a stretch must end (its count records have that width).
OUTCOME_HEADROOM = 256
#: Why ``_play`` stopped early.
MISSING, CONFLICT, NEW_TYPE, FIXED = 1, 2, 3, 4
#: The observation layout the loop encodes (checked against the codec).
OBS_FIELDS = ("my_last", "partner_last")


def unsupported(env: SpatialPD, model: Any) -> str | None:
    """Why the loop cannot play this model's next steps (None: it can). The one list of fallbacks."""
    evo = model.evolution
    c = evo.config if evo is not None else None
    reasons = (
        (not (_own(env, "step") and _own(env, "metrics")), "the environment's step or metrics are overridden"),
        (env.codec.fields != OBS_FIELDS, "the observation is not (my_last, partner_last)"),
        (len(model.phases) != 1, "more than one decision phase"),
        (not model.deterministic_decisions,
         "a decision is not the resolver's alone (deliberation, error_rate, language model, learner, steer)"),
        (model.script.has_triggers, "a `when` trigger watches the steps"),
        (not bool(model.alive.all()), "an agent has left"),
        (not model.decisions.fits_dense(), "too many deciders for a dense decision table"),
        (c is not None and c.rule != "imitate_best", "an update rule other than imitate_best"),
        (c is not None and c.update != "synchronous", "asynchronous updating"),
        (c is not None and (c.mutation > 0 or c.revise < 1.0), "mutation or partial revision (random draws)"),
        (c is not None and (bool(c.groups) or c.rematch), "evolution limited to some groups, or rematch"),
        (evo is not None and model.spec_scenario.network["kind"] == "complete",
         "imitation on a complete graph (no neighbour table)"),
    )
    return next((why for bad, why in reasons if bad), None)


def _own(env: Any, name: str) -> bool:
    """Whether ``name`` is spatial_pd's own (a subclass may play differently from what the loop mirrors).

    Looked up by module, not by importing the class: spatial_pd imports this module.
    """
    owner = next((c for c in type(env).__mro__ if name in c.__dict__), None)
    return owner is not None and owner.__module__ == "scenarios.spatial_pd"


class Layout(NamedTuple):
    """The games of a step grouped by board position: the agent at position ``p`` (``order[p]``)
    plays slots ``start[p]:start[p + 1]``.

    Positions are a lattice's cells in row-major order (agent order on other graphs), so
    neighbours sit close in memory even when agents are placed at random: at a million
    agents the loop then reads caches, not main memory. Slot ``s`` is game row ``row[s]`` of
    ``SpatialPD.layout`` (an agent's rows in increasing order, so a payoff sums in the order
    ``bincount`` sums it); ``mirror[s]`` is the slot of the partner's side of the same game.
    """

    version: int
    order: np.ndarray
    start: np.ndarray
    row: np.ndarray
    mirror: np.ndarray
    agent: np.ndarray
    partner: np.ndarray   # per slot: the partner's position
    pos: np.ndarray       # per agent: its position (reading by it beats writing through ``order``)
    slot: np.ndarray      # per game row: its slot (link memory goes back by reading)
    self_games: int       # games against oneself (the welfare bounds count them apart)


class Lookup(NamedTuple):
    """Per position its decider (updated in place), and per (decider, my_last, partner_last) the
    act the decision table holds (``act[d * 9 + 3 * (my_last + 1) + partner_last + 1]``; -1 no
    cell yet, -2 a cell that logs a conflict) and its outcome."""

    decider: np.ndarray   # (n,) int64, model.decider_of[0] by position
    act: np.ndarray       # (deciders * 9,) int64
    outcome: np.ndarray   # (deciders * 9,) int64
    coop: np.ndarray      # (deciders * 9,) int8: the act cooperates
    same: np.ndarray      # (deciders,) 1 where all nine entries agree (its decisions read nothing)
    known: np.ndarray     # (deciders,) 1 where all nine entries have a cell (no key of it is missing)


class Game(NamedTuple):
    R: float
    S: float
    T: float
    P: float


class Evolving(NamedTuple):
    """Imitation inside the loop (``on`` 0: no evolution); per-agent arrays by position."""

    on: int
    every: int
    t0: int               # model.steps before the stretch
    nbr: np.ndarray       # (n, dmax) neighbours' positions, in increasing agent index, -1 padded
    traits: np.ndarray    # (n, columns)
    evolved: np.ndarray   # columns copied
    sizes: np.ndarray     # values per column
    type_dec: np.ndarray  # per type code: its decider, -1 none yet
    new: np.ndarray       # per type code: 1 if an update made it and it has no decider yet
    ahead: np.ndarray     # per type code: 1 its decider exists already but ``Evolution`` has not
                          # recorded the type (``_known_ahead``)
    met: np.ndarray       # how many of those the loop met, then their codes (``_record_met`` records them)
    window: np.ndarray    # payoff at the last update
    fixed: int            # 1 once a type fixed (no more FIXED stops)
    copies: np.ndarray    # (columns,) 1 where the column is evolved (copied from the imitated)
    offset: np.ndarray    # (columns,) where each column's values start in ``tally``
    tally: np.ndarray     # agents per value of each column now (the ``share.*`` counts)
    uniform: np.ndarray   # (1,) 1 while one type holds everyone
    hist: np.ndarray      # agents per type code (scratch of an update)
    lanes: np.ndarray     # (4 * type codes,) its counts in four lanes, by agent index modulo 4
    # Each agent's type code is ``own + copied``: ``own`` the part imitation leaves (group and
    # traits not evolved), ``copied`` the part of the evolved traits (taken from the imitated whole).
    own: np.ndarray       # (n,)
    copied: np.ndarray    # (n,) in the loop; ``traits``' evolved columns are written from it after
    weight: np.ndarray    # (columns,) each column's place value in a type code


class People(NamedTuple):
    """Per-agent state by position, gathered from the model before a call and put back after."""

    order: np.ndarray     # the agent at each position
    pos: np.ndarray       # the position of each agent
    group: np.ndarray     # its group (by position)
    group_of: np.ndarray  # by agent: group sums add in agent order
    bounds: np.ndarray    # (groups + 1,) agent ranges of the groups when they are contiguous, else empty
    pay: np.ndarray       # (n, 2) step payoff and payoff, side by side: one cache line per agent when
                          # they are read in agent order
    all_c: np.ndarray


class Records(NamedTuple):
    """The stretch's arrays plus what the spatial game adds per step."""

    counts: np.ndarray
    step_pay: np.ndarray
    payoff: np.ndarray
    group_sums: np.ndarray
    cols: np.ndarray         # (2 + values of all columns, K): per step the share of agents that
                             # cooperated in every game, 1.0 if one type holds everyone, the ``share.*``
    summary: np.ndarray      # (K, len(SUMMARY)) the engine's metrics; no columns: per-agent records
    rows: np.ndarray         # summarised: (m, n) each step's payoffs in agent order, for the Gini,
                             # shifted as ``gini_rows`` shifts them
    tots: np.ndarray         # summarised: (m,) their totals in agent order
    sp_row: np.ndarray       # summarised: (n,) the step's payoffs in agent order, for the welfare


class Scratch(NamedTuple):
    """Buffers of the loop, made once per stretch (fresh pages cost more than the work at 10^6)."""

    coop: np.ndarray      # per slot: the move of the step
    moves: np.ndarray     # per position: one move for all its games
    pay: np.ndarray       # per position: payoff since the last update
    moves2: np.ndarray    # per position: the next step's moves, until the step is known to be plain
    copied: np.ndarray    # per position: ``Evolving.copied`` after an update, until every agent has read
    sums: np.ndarray      # per (my move, games, partners' moves as bits): the payoff, summed in slot order
    bits: int             # most games per agent ``sums`` covers; -1: no table, sum game by game


class Start(NamedTuple):
    """A stretch's state before its first call of the loop (``_start``), but the decision look-ups."""

    lay: Layout
    mem: np.ndarray       # per slot: my last move on the link
    people: People
    decider: np.ndarray   # per position: its decider
    ev: Evolving
    scratch: Scratch
    game: Game
    group_of: np.ndarray  # the model's, as int64
    labels: list[str]     # the ``share.*`` columns (evolution's labels, flat)
    summarised: bool
    bounds: tuple[float, float]  # a step's welfare bounds on this graph (``SpatialPD.bounds_of``)


class Books(NamedTuple):
    """A stretch's records (``_books``) and the buffers it ends with, made with them."""

    rec: Stretch
    extra: Records
    chunk: int            # summarised: steps whose payoff rows the Gini's buffer holds
    gini: np.ndarray
    all_c: np.ndarray     # the environment's ``_all_c`` after the stretch
    last: np.ndarray      # link memory by game row, when the graph had none
    kept: tuple[np.ndarray, ...]  # copies of what the stretch puts back (``Back``), for ``_kept``
    why: np.ndarray       # (1,) why the loop stopped


class Back(NamedTuple):
    """The model's arrays a stretch puts its state back into (agent order), and the copies of
    what it put back that the next stretch compares them with (``_kept``). Without evolution the
    window and the copies of the window and the traits are empty."""

    payoff: np.ndarray
    step_payoff: np.ndarray
    all_c: np.ndarray
    decider: np.ndarray
    window: np.ndarray
    traits: np.ndarray
    payoff_kept: np.ndarray
    decider_kept: np.ndarray
    window_kept: np.ndarray
    traits_kept: np.ndarray


def fast_forward(env: SpatialPD, model: Any, limit: int) -> Stretch | None:
    """Play up to ``limit`` steps; None when not even the first could be played this way."""
    if limit <= 0:
        return None
    ready = _ready(env, model, limit)
    if ready is None:
        if unsupported(env, model) is not None:
            return None
        lay = _layout(env, model)
        if not len(lay.row):
            return None
        ready = _start(env, model, lay), None, None
    start, lookup, books = ready
    if lookup is None:
        lookup = _decisions(env, model, start)
    return _stretch(env, model, start, lookup, _books(model, start, limit) if books is None else books)


def _start(env: SpatialPD, model: Any, lay: Layout) -> Start:
    """The first call's state: link memory, the per-agent state by position and buffers."""
    evo = model.evolution
    # Per slot: my last move on the link (-1 none; none yet on a graph no step has played).
    mem = env._last[lay.row] if env._last_version == lay.version else np.full(len(lay.row), -1, np.int8)
    group_of = model.group_of.astype(np.int64)
    people, dec, ev = _gather(env, model, lay, group_of)
    labels = [name for col in evo.labels() for name in col] if evo is not None else []
    # With only the engine's metrics to collect, the loop computes them (the Gini's sort by
    # numpy, a chunk of steps at a time) and keeps no per-agent records.
    summarised = bool(getattr(model, "summarisable", False))
    return Start(lay, mem, people, dec, ev, _scratch(env, lay, len(model.payoff)), _game(env),
                 group_of, labels, summarised, env.bounds_of((len(lay.row) - lay.self_games) // 2, lay.self_games))


def _decisions(env: SpatialPD, model: Any, start: Start) -> Lookup:
    """The look-ups of the first call, the first step's cells filled if the table is empty."""
    table = model.decisions
    # A population an earlier run of the process started with: its table, whole (sim.cell_memo.TABLES).
    if table.dense(0) is None and not (not table.n_cells and table.warm() and table.dense(0) is not None):
        _fill(env, model, start.lay, start.decider, start.mem, np.zeros(0, np.int8))
        table.keep()  # offered to later runs that start with this population (new types come later)
    return _lookup(env, model, start.decider)


def _ready(env: SpatialPD, model: Any, limit: int) -> tuple[Start, Lookup | None, Books | None] | None:
    """What ``prepare`` made at build for this stretch, if the model is still as it was then
    (compared whole: anything may have changed it since), else None. Used once."""
    got, env._ready = env._ready, None
    if got is None:
        return None
    made, sources, (start, lookup, books) = got
    # ``prepare`` found nothing ``unsupported``; what it read that may change is compared here.
    objects, values = _made_from(env, model)
    if not (all(a is b for a, b in zip(made[0], objects, strict=True)) and made[1] == values
            and _unchanged(sources, _sources(model))):
        return None
    if books is not None and books.extra.cols.shape[1] != _steps(model, limit, start.summarised):
        books = None  # made for another number of steps (``run(steps)``)
    return start, lookup, books


def _made_from(env: SpatialPD, model: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """What a stretch's start depends on but the model's arrays (``_sources``), and what of
    ``unsupported``'s inputs may change after build (not the classes, codec, phases or the
    evolution's rule): objects, held and compared by identity, and values."""
    table, evo = model.decisions, model.evolution
    objects = (table, table.dense(0), env.params, evo, env._slot_nbr, model.script)
    values = (model.steps, model.graph_version, env._last_version, len(model.payoff), len(model.groups),
              table.n_cells, table.n_outcomes, len(table.deciders), bool(getattr(model, "summarisable", False)),
              model.deterministic_decisions, model.script.has_triggers,
              None if evo is None else (len(evo._deciders), evo.fixed))
    return objects, values


def _sources(model: Any) -> tuple[np.ndarray, ...]:
    """The model's arrays a stretch's start is gathered from."""
    evo = model.evolution
    got = (model.payoff, model.group_of, model.decider_of[0], model.alive)
    return got if evo is None else (*got, evo.traits, evo._window)


def _unchanged(kept: tuple[np.ndarray, ...], now: tuple[np.ndarray, ...]) -> bool:
    """Whether ``now`` holds ``kept``'s very bytes (stricter than ``==``: -0.0 is not 0.0)."""
    return len(kept) == len(now) and all(
        a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes() for a, b in zip(kept, now, strict=True))


def _books(model: Any, start: Start, limit: int) -> Books:
    """Zeroed records for the stretch's steps (at most ``limit``, and what ``RECORD_BUDGET`` holds)."""
    n, groups = len(model.payoff), len(model.groups)
    width = model.decisions.n_outcomes + OUTCOME_HEADROOM
    summarised = start.summarised
    k = _steps(model, limit, summarised)
    rec = Stretch.empty(k, width, n, groups, 0, summarised)
    # Its counts, summary, environment and evolved columns are all the metrics read: booked as one
    # block (``sim.summary_book``).
    rec.one_block = summarised
    if summarised:
        rec.arrays.summary[:, 2:] = np.nan  # no trust in this game
    chunk = max(1, min(k, CHUNK_BYTES // (8 * max(n, 1)))) if summarised else k
    cols = np.zeros((2 + max(len(start.labels), 1), k))
    extra = Records(rec.arrays.counts, rec.arrays.step_pay, rec.arrays.payoff, rec.arrays.group_sums, cols,
                    rec.arrays.summary, np.empty((chunk if summarised else 0, n)), np.empty(chunk),
                    np.empty(n if summarised else 0))
    # The columns of all ``k`` steps (a stretch that stops early slices them).
    rec.env_metrics = {"cooperators": cols[0]}
    evo = model.evolution
    if evo is not None:
        rec.evolved = {name: cols[2 + j] for j, name in enumerate(start.labels)}
        rec.evolved["fixation"] = cols[1]
    traits = evo.traits if evo is not None else np.zeros((0, 1), np.int64)
    kept = (np.empty(n), np.empty(n, np.int64), np.empty(n if evo is not None else 0), np.empty_like(traits))
    return Books(rec, extra, chunk, np.empty(chunk), np.empty(n, np.bool_), np.empty(len(start.mem), np.int8), kept,
                 np.zeros(1, np.int64))


def _steps(model: Any, limit: int, summarised: bool) -> int:
    """Steps a stretch records: at most ``limit``, and what ``RECORD_BUDGET`` holds."""
    width = model.decisions.n_outcomes + OUTCOME_HEADROOM
    per_step = 8 * (width + len(model.groups) + len(SUMMARY) + (0 if summarised else 2 * len(model.payoff)))
    return max(1, min(limit, RECORD_BUDGET // per_step))


def _stretch(env: SpatialPD, model: Any, start: Start, lookup: Lookup, books: Books) -> Stretch | None:
    """Play the stretch from ``start`` into ``books``, repair after each stop, put the state back."""
    lay, mem, people, _, ev, scratch, game = start[:7]
    rec, extra, chunk, gini = books[:4]
    table = model.decisions
    evo = model.evolution
    summarised = start.summarised
    k = extra.cols.shape[1]
    width = rec.arrays.counts.shape[1]
    why = books.why
    c0 = 0  # summarised: the first step whose payoff row waits in ``extra.rows`` for its Gini
    while rec.steps < k:
        k0 = rec.steps
        # A call after a stop writes its rows after the waiting ones (views: the same array types).
        part = extra if k0 == c0 else extra._replace(rows=extra.rows[k0 - c0:], tots=extra.tots[k0 - c0:])
        rec.steps = _play(k0, min(k, c0 + chunk), lookup, game, lay, mem, people, ev, part, scratch, why)
        if ev.met[0]:
            _record_met(model, ev)
        if summarised and rec.steps == c0 + chunk and rec.steps < k:
            c0 = _ginis(extra, c0, rec.steps, gini)  # the buffer is full: one sort for all its rows
        # Repairs touch only what they read: the rest of the state stays by position.
        dec = lookup.decider
        if why[0] == MISSING:
            _fill(env, model, lay, dec, mem, lookup.known)
        elif why[0] == NEW_TYPE:
            # What Evolution._assign would do: deciders for the new types, in increasing code
            # (only new types add deciders: the other codes' entries stand).
            for code in np.flatnonzero(ev.new).tolist():
                ev.type_dec[code] = evo._decider_of_code(model, code)[0]
            ev.new[:] = 0
            _assign_types(people.group, ev.traits, ev.sizes, ev.type_dec, dec)
            _fill(env, model, lay, dec, mem, lookup.known)
        elif why[0] == FIXED:
            _put_rows(ev.traits, lay.pos, evo.traits)
            evo._check_fixation(model, model.steps + rec.steps)
        elif rec.steps < k and why[0] == 0:
            continue  # the end of a chunk
        else:
            break
        if table.n_outcomes > width or table.dense(0) is None:
            break  # more outcomes than the records hold, or deciders outgrew the dense table
        lookup = _lookup(env, model, dec)
        if evo is not None:
            ev = ev._replace(fixed=int(evo.fixed is not None))
    s = rec.steps
    if not s:
        return None  # nothing played, nothing changed
    rows = extra.rows[:s - c0] if summarised else extra.rows
    if len(rows):
        rows.sort(axis=1)  # numpy's sort: vectorised (``_finish`` takes the Ginis)
    back = _back(model, books)
    fresh = env._last_version != lay.version  # the first stretch on this graph: no memory yet
    last = books.last if fresh else env._last
    _finish(c0, rows, extra.tots, gini, rec.arrays.summary, lay.pos, people.pay, people.all_c, lookup.decider,
            ev.window, ev.traits, ev.evolved, back, mem, lay.slot, last)
    env._last, env._last_version = last, lay.version
    _keep(env, lay, start, people, lookup, ev, back)
    env._all_c = back.all_c
    env.bounds = start.bounds
    if s < k:  # the columns of the steps played
        rec.env_metrics = {name: col[:s] for name, col in rec.env_metrics.items()}
        rec.evolved = {name: col[:s] for name, col in rec.evolved.items()}
    return rec


def _back(model: Any, books: Books) -> Back:
    """Where the stretch puts its state back: the model's arrays now, and the copies' buffers."""
    evo = model.evolution
    window, traits = (evo._window, evo.traits) if evo is not None else (np.zeros(0), books.kept[3])
    return Back(model.payoff, model.step_payoff, books.all_c, model.decider_of[0], window, traits, *books.kept)


def _keep(env: SpatialPD, lay: Layout, start: Start, people: People, lookup: Lookup, ev: Evolving,
          back: Back) -> None:
    """Offer the state by position to the next stretch, with copies of what it put back (``_kept``)."""
    v = lay.version
    kept = {"payoff": (v, back.payoff_kept, people.pay), "group": (v, start.group_of, people.group),
            "decider": (v, back.decider_kept, lookup.decider)}
    if ev.on:
        kept["traits"] = (v, back.traits_kept, ev.traits)
        kept["window"] = (v, back.window_kept, ev.window)
    env._kept = kept


def _ginis(extra: Records, c0: int, c1: int, gini: np.ndarray) -> int:
    """The Gini of steps ``c0``..``c1 - 1``, whose shifted payoff rows wait in ``extra.rows``; returns ``c1``."""
    rows = extra.rows[:c1 - c0]
    rows.sort(axis=1)
    _gini_into(c0, rows, extra.tots, gini, extra.summary)
    return c1


def _layout(env: SpatialPD, model: Any) -> Layout:
    """The slot layout of the current graph (cached on the environment per graph version)."""
    got = env._slots
    if got is not None and got.version == model.graph_version:
        return got
    board = model.network.board()
    if board is not None:
        # Laid out at build (``SpatialPD.setup``) for boards up to ``SLOTS_AT_BUILD``, else here.
        built = env._board
        slots = built[1] if built is not None and built[0] == model.graph_version else board.slots()
        env._board = None
        got, env._slot_nbr = Layout(model.graph_version, *slots[:-1]), slots.nbr
        env._slots = got
        return got
    agents, partners, mirror = env.layout(model)
    n = len(model.payoff)
    cells = model.network.cells
    order = np.arange(n) if cells is None or len(cells) != n else np.asarray(cells, np.int64)
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    at = pos[agents]
    row = np.argsort(at, kind="stable")
    slot_of = np.empty(len(row), np.int64)
    slot_of[row] = np.arange(len(row))
    start = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(at, minlength=n), out=start[1:])
    # int32 where it fits: the loop is bound by memory traffic over nine games per agent.
    idx = np.int32 if len(row) < 2**31 else np.int64
    mirror_slot = slot_of[mirror[row]]
    owner = np.repeat(np.arange(n), np.diff(start))
    got = Layout(model.graph_version, order, start, row, mirror_slot.astype(idx), agents[row],
                 owner[mirror_slot].astype(idx), pos.astype(idx), slot_of.astype(idx),
                 int(np.count_nonzero(agents == partners)))
    env._slots = got
    env._slot_nbr = None
    return got


def _fill(env: SpatialPD, model: Any, lay: Layout, dec: np.ndarray, mem: np.ndarray, known: np.ndarray) -> None:
    """Give the next step's keys their cells the generic way (and their projections, as read).

    ``dec``: each position's decider. Only the distinct keys go to ``cells`` (a bitmap over the
    few deciders x codes): it computes missing keys in sorted order whatever the input, so the
    cells are those the generic step makes from all of its keys.
    """
    table = model.decisions
    codec = env.codec
    space = codec.space
    seen = np.zeros(len(table.deciders) * space, np.bool_)
    r, o = np.asarray(codec.radix, np.int64), np.asarray(codec.offset, np.int64)
    _keys_seen(lay.start, lay.mirror, mem, dec, known, space, r[0], o[0], r[1], o[1], seen)
    dec, codes = np.divmod(np.flatnonzero(seen), space)
    table.cells(0, dec, codes)
    keep = table.read_mask()
    table.cells(0, dec, project(env.codec, codes, keep[dec]))


def _gather(env: SpatialPD, model: Any, lay: Layout, group_of: np.ndarray) -> tuple[People, np.ndarray, Evolving]:
    """The per-agent state by position: people, deciders, imitation."""
    order = lay.order

    def payoffs() -> np.ndarray:
        pay = np.empty((len(order), 2))  # the step payoffs are all written before they are read
        _take_into(model.payoff, order, pay[:, 1])
        return pay

    pay = _kept(env, lay, "payoff", model.payoff, payoffs)
    # Groups in agent ranges (as scenarios make them): each group's sum is then one running sum.
    ranged = bool((np.diff(group_of) >= 0).all())
    bounds = np.searchsorted(group_of, np.arange(len(model.groups) + 1)) if ranged else np.zeros(0, np.int64)
    group = _kept(env, lay, "group", group_of, lambda: _take(group_of, order))
    people = People(order, lay.pos, group, group_of, bounds, pay, np.zeros(len(order), np.bool_))
    dec = _kept(env, lay, "decider", model.decider_of[0], lambda: _take(model.decider_of[0], order))
    return people, dec, _evolving(model, env, lay, group)


def _kept(env: SpatialPD, lay: Layout, name: str, now: np.ndarray, take: Callable[[], np.ndarray]) -> np.ndarray:
    """``now`` by position: what the last stretch left, if ``now`` still holds what it put back
    (compared whole: anything may have changed the model between stretches), else ``take()``.

    Why: a random gather of 10^6 agents costs ~10x a sequential compare.
    """
    got = env._kept.pop(name, None)
    if got is not None and got[0] == lay.version and got[1].shape == now.shape and np.array_equal(got[1], now):
        return got[2]
    return take()


def prepare(env: SpatialPD, model: Any) -> None:
    """At build, in a process that has loaded this module (an earlier run played through it):
    the first stretch's start (``_start``: the per-agent state by position, imitation state,
    buffers) and, from a table an earlier run of this population kept, its look-ups and records,
    which a fresh model's first stretch would otherwise make (~0.5 ms of a ~2 ms run at 10^3
    agents). A cache only: the stretch takes it while the model is as it was (``_ready``)."""
    if unsupported(env, model) is not None:
        return
    lay = _layout(env, model)
    if not len(lay.row):
        return
    # The table an earlier run of this population kept, restored now rather than by the first
    # stretch, when that stretch may start at step one (no event due first could add deciders).
    table = model.decisions
    fused = getattr(model, "env", None) is env and model.may_fast_forward
    if fused and model.script.quiet_steps(0, 1) and not table.n_cells and table.dense(0) is None:
        table.warm()
    start = _start(env, model, lay)
    # The first stretch's limit when the run is ``run()``'s from here (``SpecModel._fast_forward``).
    limit = model.script.quiet_steps(model.steps, model.spec_scenario.steps) if fused else 0
    ready: tuple[Start, Lookup | None, Books | None] = (start, None, None)
    if limit > 0 and table.dense(0) is not None:
        ready = (start, _lookup(env, model, start.decider), _books(model, start, limit))
    env._ready = (_made_from(env, model), tuple(a.copy() for a in _sources(model)), ready)


def _scratch(env: SpatialPD, lay: Layout, n: int) -> Scratch:
    """The loop's buffers, kept on the environment: every call writes them before reading."""
    p = env.params
    key = (lay.version, n, float(p.P), float(p.T), float(p.S), float(p.R))
    if env._scratch is not None and env._scratch[0] == key:
        return env._scratch[1]  # type: ignore[no-any-return]
    made = _new_scratch(env, lay, n)
    env._scratch = (key, made)
    return made


def _new_scratch(env: SpatialPD, lay: Layout, n: int) -> Scratch:
    games = np.diff(lay.start)
    most = int(games.max()) if len(games) else 0
    bits = most if most <= SUM_BITS else -1
    sums = np.zeros(2 * (bits + 1) << max(bits, 0))
    if bits >= 0:
        p = env.params
        _pay_sums(np.array([p.P, p.T, p.S, p.R], np.float64), bits, sums)
    return Scratch(np.empty(len(lay.row), np.int8), np.empty(n, np.int8), np.empty(n), np.empty(n, np.int8),
                   np.empty(n, np.int64), sums, bits)


def _lookup(env: SpatialPD, model: Any, dec: np.ndarray) -> Lookup:
    """Each decider's act and outcome for the nine observations, from the table's cells now.

    Compiled: a run re-reads it after every stop (new types, fills), and some twenty numpy
    calls over a few dozen entries cost ~0.2 ms each time at 10^3 agents."""
    codec, table = env.codec, model.decisions
    # A table restored from a kept state and still sharing it (no cell of its own yet) has the
    # look-ups an earlier run of the process computed from that state: read-only, kept with it.
    memo = table.shared_memo("spatial_kernel.lookup")
    key = (table.population_key(), table.n_outcomes) if memo is not None else None
    arrays = memo.get(key) if memo is not None and key[0] is not None else None
    if arrays is None:
        r, o = codec.radix, codec.offset
        arrays = _lookup_arrays(table.dense(0), table.read_mask(), codec.space, r[0], o[0], r[1], o[1],
                                table.full, table.base, table.outcome_column("nconf"), env._coop.astype(np.int8))
        if memo is not None and key[0] is not None:
            memo[key] = arrays
    return Lookup(dec, *arrays)


@njit(**OUTER)
def _lookup_arrays(lut, read, space, r0, o0, r1, o1, full, base, nconf, coop_of):  # pragma: no cover - compiled
    """``Lookup``'s act, outcome, coop, same and known: per decider and observation (my_last,
    partner_last), the key projected on the fields it reads (``ipd_kernel.project``), its cell
    (-1 none, -2 one that logs a conflict) and outcome (the first decider's first outcome
    where there is no cell: never read)."""
    deciders = read.shape[0]
    act = np.empty(deciders * 9, np.int64)
    outcome = np.empty(deciders * 9, np.int64)
    coop = np.empty(deciders * 9, np.int8)
    same = np.empty(deciders, np.int8)
    known = np.empty(deciders, np.int8)
    for d in range(deciders):
        every = 1
        for j in range(9):
            key = d * space + read[d, 0] * ((j // 3 - 1 + o0) * r0) + read[d, 1] * ((j % 3 - 1 + o1) * r1)
            c = np.int64(lut[key]) - 1  # entries are cell + 1; 0 missing
            i = d * 9 + j
            if c >= 0:
                a = np.int64(full[c])
                outcome[i] = base[c] + max(a, 0)
                act[i] = -2 if nconf[outcome[i]] > 0 else a
            else:
                every = 0
                act[i] = -1
                outcome[i] = base[0]
            coop[i] = coop_of[max(act[i], 0)]
        first = d * 9
        alike = act[first] >= 0
        for i in range(first + 1, first + 9):
            alike = alike and act[i] == act[first] and outcome[i] == outcome[first]
        same[d] = alike
        known[d] = every
    return act, outcome, coop, same, known


def _game(env: SpatialPD) -> Game:
    p = env.params
    return Game(float(p.R), float(p.S), float(p.T), float(p.P))


def _evolving(model: Any, env: SpatialPD, lay: Layout, group: np.ndarray) -> Evolving:
    evo = model.evolution
    if evo is None:
        z = np.zeros((1, 1), np.int64)
        one = np.zeros(1, np.int64)
        # Neighbours in the layout's index type, as an evolving board's: one compile serves both.
        nbr = np.zeros((1, 1), lay.pos.dtype)
        return Evolving(0, 1, 0, nbr, z, np.zeros(0, np.int64), np.ones(1, np.int64), one, np.zeros(1, np.int8),
                        np.zeros(1, np.int8), one.copy(), np.zeros(1), 1, np.zeros(1, np.int8), one, one.copy(),
                        one.copy(), one.copy(), np.zeros(4, np.int64), one.copy(), one.copy(), one.copy())
    if env._slot_nbr is None:
        nbr, _ = evo._neighbours(model)
        pos = np.empty(len(lay.order), np.int64)
        pos[lay.order] = np.arange(len(lay.order))
        nbr = nbr[lay.order]
        env._slot_nbr = np.where(nbr < 0, -1, pos[np.maximum(nbr, 0)]).astype(lay.pos.dtype)
    nbr = env._slot_nbr
    if len(evo._window) != len(model.payoff):
        raise AssertionError("the evolution window does not cover the population")
    traits = _kept(env, lay, "traits", evo.traits, lambda: _take_rows(evo.traits, lay.order))
    window = _kept(env, lay, "window", evo._window, lambda: _take(evo._window, lay.order))
    return _new_evolving(model, nbr, group, traits, window)


def _new_evolving(model: Any, nbr: np.ndarray, group: np.ndarray, traits: np.ndarray,
                  window: np.ndarray) -> Evolving:
    evo = model.evolution
    sizes = np.asarray(evo.sizes, np.int64)
    type_dec = _type_deciders(model)
    evolved = np.asarray(evo.columns, np.int64)
    copies = np.zeros(len(sizes), np.int8)
    copies[evolved] = 1
    offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    tally = np.zeros(int(sizes.sum()), np.int64)
    ev = Evolving(1, evo.config.every, model.steps, nbr, traits, evolved, sizes, type_dec,
                  np.zeros(len(type_dec), np.int8), np.zeros(len(type_dec), np.int8),
                  np.zeros(len(type_dec) + 1, np.int64), window,
                  int(evo.fixed is not None), copies, offset, tally, np.zeros(1, np.int64),
                  np.zeros(len(type_dec), np.int64), np.zeros(4 * len(type_dec), np.int64),
                  np.empty(len(group), np.int64), np.empty(len(group), np.int64),
                  np.cumprod(np.concatenate([sizes[1:], [1]])[::-1])[::-1].astype(np.int64))
    _count_types(group, ev)
    _known_ahead(model, ev)
    return ev


def _known_ahead(model: Any, ev: Evolving) -> None:
    """The deciders of types imitation can make that ``Evolution`` has not met yet but whose
    deciders exist already (``Evolution.known_deciders``): the loop assigns them without stopping.

    Why: a new type stopped the loop for ``Evolution._assign``'s look-up, then a fill, a
    look-up table and a new call (~0.3 ms a stop at 10^3 agents), even where it found a decider
    another group made (spatial-pd's cooperators turned defectors decide as the defectors do).
    Imitation copies the evolved columns of a present type whole and keeps the others (no
    mutation here), so the types it can make are the present ones' kept digits with their
    copied digits recombined."""
    evo = model.evolution
    sizes = ev.sizes.tolist()
    copied = set(ev.evolved.tolist())
    kept, moved = set(), set()
    for code in np.flatnonzero(ev.hist).tolist():
        digits = []
        for size in reversed(sizes):
            code, v = divmod(code, size)
            digits.append(v)
        digits.reverse()
        kept.add((code, *(v if c not in copied else -1 for c, v in enumerate(digits))))
        moved.add(tuple(v if c in copied else -1 for c, v in enumerate(digits)))
    for head in sorted(kept):
        for tail in sorted(moved):
            code = head[0]
            for c, size in enumerate(sizes):
                code = code * size + max(head[1 + c], tail[c])
            if ev.type_dec[code] < 0:
                dids = evo.known_deciders(model, code)
                if dids is not None:
                    ev.type_dec[code] = dids[0]
                    ev.ahead[code] = 1


def _record_met(model: Any, ev: Evolving) -> None:
    """Record the types with deciders known ahead that the loop met, as ``_assign`` records
    them (it creates nothing for them: their deciders exist)."""
    met = ev.met
    for j in range(1, int(met[0]) + 1):
        model.evolution.met(int(met[j]))
    met[0] = 0


def _type_deciders(model: Any) -> np.ndarray:
    """Per type code (group, then each trait, mixed radix as ``Evolution._code``): its decider, -1 none yet."""
    evo = model.evolution
    type_dec = np.full(len(model.groups) * int(np.prod(evo.sizes)), -1, np.int64)
    for code, dids in evo._deciders.items():
        type_dec[code] = dids[0]
    return type_dec


@njit(**OUTER)
def _assign_types(group, traits, sizes, type_dec, decider):  # pragma: no cover - compiled
    """Each position's decider from its type (group, then each trait, in mixed radix)."""
    for i in range(group.shape[0]):
        code = np.int64(group[i])
        for col in range(traits.shape[1]):
            code = code * sizes[col] + traits[i, col]
        decider[i] = type_dec[code]


@njit(**OUTER)
def _keys_seen(start, mirror, mem, dec, known, space, r0, o0, r1, o1, seen):  # pragma: no cover - compiled
    """Mark the (decider, observation code) keys of the next step's games in ``seen``, but those of
    deciders ``known`` to have a cell for all nine observations: their keys find cells already
    filed under their read-sets (no new cell, so the new cells and their order are unchanged)."""
    for i in range(start.shape[0] - 1):
        if dec[i] < known.shape[0] and known[dec[i]]:
            continue
        row = dec[i] * space
        for s in range(start[i], start[i + 1]):
            seen[row + (np.int64(mem[s]) + o0) * r0 + (np.int64(mem[mirror[s]]) + o1) * r1] = True


@njit(**OUTER)
def _take(src, order):  # pragma: no cover - compiled
    """``src[order]`` (rows), one pass: numpy's fancy indexing is several times slower here."""
    out = np.empty_like(src)
    for i in range(order.shape[0]):
        out[i] = src[order[i]]
    return out


@njit(**OUTER)
def _finish(c0, rows, tots, gini, summary, pos, pay, all_c, dec, window, traits, columns, back, mem, slot,
            last):  # pragma: no cover - compiled
    """A stretch's end in one call: the Ginis of the sorted ``rows`` waiting (steps ``c0``...),
    the state by position back in agent order (``_put_back``) with its copies, and link memory
    by game row."""
    if rows.shape[0]:
        _gini_into(c0, rows, tots, gini, summary)
    _put_back(pos, pay, all_c, dec, window, traits, columns, back)
    for a in range(pos.shape[0]):
        back.payoff_kept[a] = back.payoff[a]
        back.decider_kept[a] = back.decider[a]
    for a in range(back.window_kept.shape[0]):
        back.window_kept[a] = back.window[a]
    for a in range(back.traits_kept.shape[0]):
        for c in range(back.traits_kept.shape[1]):
            back.traits_kept[a, c] = back.traits[a, c]
    for r in range(slot.shape[0]):
        last[r] = mem[slot[r]]


@njit(**OUTER)
def _gini_into(c0, rows, tots, gini, summary):  # pragma: no cover - compiled
    """``gini_rows`` of the sorted, shifted ``rows`` (totals ``tots``) into the summary's steps ``c0``..."""
    _gini_sorted(rows, tots, gini)
    for j in range(rows.shape[0]):
        summary[c0 + j, 1] = gini[j]


@njit(**INNER)
def _put_back(pos, pay, all_c, dec, window, traits, columns, back):  # pragma: no cover - compiled
    """The state by position back in agent order: ``out[a] = src[pos[a]]`` (``out[order] = src``
    read the other way: gathers run faster). Without evolution ``back.window`` is empty and
    ``columns`` too. Of the traits only the evolved columns (the others never change)."""
    for a in range(pos.shape[0]):
        p = pos[a]
        back.payoff[a] = pay[p, 1]
        back.step_payoff[a] = pay[p, 0]
        back.all_c[a] = all_c[p]
        back.decider[a] = dec[p]
    for a in range(back.window.shape[0]):
        back.window[a] = window[pos[a]]
    for a in range(back.window.shape[0]):
        for c in columns:
            back.traits[a, c] = traits[pos[a], c]


@njit(**OUTER)
def _take_rows(src, order):  # pragma: no cover - compiled
    """``_take`` of a 2-D array, element by element (row views cost more than the copy)."""
    out = np.empty_like(src)
    for i in range(order.shape[0]):
        for c in range(src.shape[1]):
            out[i, c] = src[order[i], c]
    return out


@njit(**OUTER)
def _put_rows(src, pos, out):  # pragma: no cover - compiled
    """``_put_back``'s copy of a 2-D array by position, element by element."""
    for a in range(pos.shape[0]):
        for c in range(src.shape[1]):
            out[a, c] = src[pos[a], c]




@njit(**INNER)
def _remember(start, moves, mem):  # pragma: no cover - compiled
    """Link memory from one move per agent: each of its games remembers its move."""
    for i in range(moves.shape[0]):
        for s in range(start[i], start[i + 1]):
            mem[s] = moves[i]


@njit(**INNER)
def _decide_and_pay(k, lk, table, lay, mem, coop, step_pay, all_c, rec, why):  # pragma: no cover - compiled
    """One step's games, each decided from its own observation; the agents that cooperated in every
    game, or -1 if the step cannot be played here."""
    start, mirror = lay.start, lay.mirror
    n = step_pay.shape[0]
    # Decide every game first and change nothing: a step the loop cannot play is left whole.
    for i in range(n):
        d = lk.decider[i]
        row = d * 9
        if lk.same[d]:
            # The verdict is the same whatever was seen: one look-up for all its games.
            c = lk.coop[row]
            for s in range(start[i], start[i + 1]):
                coop[s] = c
            rec.counts[k, lk.outcome[row]] += start[i + 1] - start[i]
            continue
        for s in range(start[i], start[i + 1]):
            j = row + 3 * (np.int64(mem[s]) + 1) + np.int64(mem[mirror[s]]) + 1
            a = lk.act[j]
            if a < 0:
                why[0] = MISSING if a == -1 else CONFLICT
                rec.counts[k, :] = 0  # the step is left whole for the generic path
                return -1
            coop[s] = lk.coop[j]
            rec.counts[k, lk.outcome[j]] += 1
    cooperators = 0
    for i in range(n):
        sp = 0.0
        kind = 0
        for s in range(start[i], start[i + 1]):
            mine = np.int64(coop[s])
            mem[s] = mine  # the decisions of the step have all read the old moves
            sp += table[2 * mine + coop[mirror[s]]]
            kind += mine
        step_pay[i] = sp
        all_c[i] = start[i + 1] > start[i] and kind == start[i + 1] - start[i]
        cooperators += all_c[i]
    return cooperators


@njit(**OUTER)
def _play(k0, k_max, lk, game, lay, mem, pp, ev, rec, tmp, why):  # pragma: no cover - compiled
    """Play steps ``k0``..``k_max - 1``; returns the next step (``why[0]``: why it stopped early)
    with the traits the loop's again (``_end``).

    Mirrors ``SpatialPD.step``, ``SpecModel.decide`` and ``Evolution.after_play``
    (imitate-the-best, synchronous) for the supported case, operation for operation.
    A summarised stretch writes step ``k``'s payoffs in agent order to ``rec.rows[k - k0]``
    (their Gini is taken after the call) and its welfare to ``rec.summary``.
    """
    n = pp.pay.shape[0]
    start, partner = lay.start, lay.partner
    pay2, all_c = pp.pay, pp.all_c
    summarised = rec.summary.shape[1] > 0
    moves, nxt = tmp.moves, tmp.moves2  # per position, while every verdict in play reads nothing
    stale = False  # ``mem`` lags ``moves``: link memory is written only when something reads it
    pay, sums, bits = tmp.pay, tmp.sums, tmp.bits
    table = np.array([game.P, game.T, game.S, game.R])  # by 2 * mine + other, no branches
    per_decider = np.zeros(lk.same.shape[0], np.int64)
    why[0] = 0
    for k in range(k0, k_max):
        t = ev.t0 + k + 1  # the model's step number after this step
        update = ev.on == 1 and t % ev.every == 0
        # Nowak and May's case: when every verdict in play is one act for all of an agent's games,
        # one move per agent is the whole decision (found while reading them).
        plain = True
        per_decider[:] = 0
        for i in range(n):
            d = np.uint64(lk.decider[i])  # unsigned indices: numba reads no negative index from the end
            if lk.same[d] == 0:
                plain = False
                break
            nxt[i] = lk.coop[d * np.uint64(9)]
            per_decider[d] += start[i + 1] - start[i]
        if plain:
            moves, nxt = nxt, moves
            for d in range(per_decider.shape[0]):
                if per_decider[d]:
                    rec.counts[k, lk.outcome[d * 9]] += per_decider[d]
            cooperators = 0
            for i in range(n):
                mine = np.int64(moves[i])
                lo, hi = start[i], start[i + 1]
                if bits >= 0:
                    # The sum in slot order, looked up by the partners' moves: no chain of adds.
                    seen = 0
                    for j in range(hi - lo):
                        seen |= np.int64(moves[np.uint64(partner[np.uint64(lo + j)])]) << j
                    sp = sums[np.uint64(((mine * (bits + 1) + hi - lo) << bits) | seen)]
                else:
                    sp = 0.0
                    for s in range(lo, hi):
                        sp += table[2 * mine + moves[partner[s]]]
                pay2[i, 0] = sp
                x = pay2[i, 1] + sp
                pay2[i, 1] = x
                all_c[i] = hi > lo and mine == 1
                cooperators += all_c[i]
                if update:
                    pay[i] = x - ev.window[i]
                    ev.window[i] = x
            stale = True
        else:
            if stale:
                _remember(start, moves, mem)
                stale = False
            cooperators = _decide_and_pay(k, lk, table, lay, mem, tmp.coop, pay2[:, 0], all_c, rec, why)
            if cooperators < 0:
                return _end(ev, k)
            for i in range(n):
                x = pay2[i, 1] + pay2[i, 0]
                pay2[i, 1] = x
                if update:
                    pay[i] = x - ev.window[i]
                    ev.window[i] = x
        # Records in agent order (the sums of the metrics add in agent order, as numpy does).
        prow = rec.rows[k - k0] if summarised else rec.payoff[k]
        srow = rec.sp_row if summarised else rec.step_pay[k]
        for a in range(n):
            p = np.uint64(pp.pos[a])
            srow[a] = pay2[p, 0]
            prow[a] = pay2[p, 1]
        if pp.bounds.shape[0]:
            for g in range(pp.bounds.shape[0] - 1):
                acc = 0.0  # bincount: each group's running sum from 0.0, in agent order
                for a in range(pp.bounds[g], pp.bounds[g + 1]):
                    acc += prow[a]
                rec.group_sums[k, g] = acc
        else:
            for a in range(n):
                rec.group_sums[k, pp.group_of[a]] += prow[a]
        if summarised:
            rec.summary[k, 0] = total(srow, n)  # the welfare, summed as numpy sums it
            _gini_shift(rec.rows[k - k0:k - k0 + 1], rec.tots[k - k0:k - k0 + 1])  # sorted after the call
        rec.cols[0, k] = cooperators / n  # true division, as numpy divides the counts
        if ev.on:
            new_type = False
            if update and _imitate(lk, ev, tmp, pay):
                new_type = True
            rec.cols[1, k] = ev.uniform[0]
            for j in range(ev.tally.shape[0]):
                rec.cols[2 + j, k] = ev.tally[j] / n
            if new_type or (update and ev.uniform[0] and not ev.fixed):
                why[0] = NEW_TYPE if new_type else FIXED
                if stale:
                    _remember(start, moves, mem)
                return _end(ev, k + 1)
    if stale:
        _remember(start, moves, mem)
    return _end(ev, k_max)


@njit(**INNER)
def _end(ev, k):  # pragma: no cover - compiled
    """``k``, once the evolved traits are written from the loop's codes (``_traits``)."""
    if ev.on:
        _traits(ev)
    return k


@njit(**INNER)
def _imitate(lk, ev, tmp, pay):  # pragma: no cover - compiled
    """Everyone takes the evolved traits of the best earner around it (itself first, then the
    first best): the part of the type code they make (``ev.copied``; the traits are written
    when the call ends, ``_traits``), its new decider, the trait counts and whether one type
    holds everyone. True when some new type has no decider yet (``ev.new`` marks it)."""
    n = pay.shape[0]
    nbr, copied, after = ev.nbr, ev.copied, tmp.copied
    types = ev.hist.shape[0]
    lanes = ev.lanes
    lanes[:] = 0
    new_type = False
    for i in range(n):
        best, top = i, pay[i]
        for j in range(nbr.shape[1]):
            c = nbr[i, j]
            c = i if c < 0 else c
            p = pay[np.uint64(c)]
            if p > top:
                best, top = c, p
        # Synchronous: the new codes go aside until every agent has read the old ones.
        part = copied[np.uint64(best)]
        after[i] = part
        code = ev.own[i] + part
        # Four counters a type: neighbours mostly share one, and a single counter would chain
        # every increment through memory.
        lanes[np.uint64((i & 3) * types + code)] += 1
        u = np.uint64(code)
        d = ev.type_dec[u]
        if d < 0:
            new_type = True
            ev.new[u] = 1
        else:
            lk.decider[i] = d
            if ev.ahead[u] == 1:
                ev.ahead[u] = 0  # met: recorded after the call, once
                ev.met[0] += 1
                ev.met[ev.met[0]] = code
    for i in range(n):
        copied[i] = after[i]
    for code in range(types):
        ev.hist[code] = lanes[code] + lanes[types + code] + lanes[2 * types + code] + lanes[3 * types + code]
    _tally(ev)
    return new_type


@njit(**INNER)
def _traits(ev):  # pragma: no cover - compiled
    """The evolved columns of ``ev.traits`` from the agents' codes (``ev.copied``)."""
    for col in ev.evolved:
        for i in range(ev.copied.shape[0]):
            ev.traits[i, col] = (ev.copied[i] // ev.weight[col]) % ev.sizes[col]


@njit(**OUTER)
def _count_types(group, ev):  # pragma: no cover - compiled
    """``ev.hist``, the trait counts and whether one type holds everyone, and each agent's type
    code in its two parts (``ev.own``, ``ev.copied``), from the traits now."""
    ev.hist[:] = 0
    for i in range(group.shape[0]):
        own = np.int64(group[i])
        copied = 0
        for col in range(ev.traits.shape[1]):
            own *= ev.sizes[col]
            copied *= ev.sizes[col]
            if ev.copies[col]:
                copied += ev.traits[i, col]
            else:
                own += ev.traits[i, col]
        ev.own[i] = own
        ev.copied[i] = copied
        ev.hist[own + copied] += 1
    _tally(ev)


@njit(**INNER)
def _tally(ev):  # pragma: no cover - compiled
    """Trait counts (``ev.tally``) and ``ev.uniform`` from agents per type code: the evolved traits
    are the same for everyone when every type present has the same evolved digits."""
    ev.tally[:] = 0
    ev.uniform[0] = 1
    first = -1
    for code in range(ev.hist.shape[0]):
        count = ev.hist[code]
        if count == 0:
            continue
        rest, part = code, 0
        for col in range(ev.sizes.shape[0] - 1, -1, -1):
            v = rest % ev.sizes[col]
            rest //= ev.sizes[col]
            ev.tally[ev.offset[col] + v] += count
            if ev.copies[col]:
                part = part * ev.sizes[col] + v
        if first < 0:
            first = part
        elif part != first:
            ev.uniform[0] = 0


@njit(**OUTER)
def _pay_sums(table, bits, sums):  # pragma: no cover - compiled
    """Per (my move, games, partners' moves as bits): the payoff summed game by game from 0.0, the
    sum ``SpatialPD.step`` makes (``add_payoff`` adds an agent's games in row order)."""
    for mine in range(2):
        for games in range(bits + 1):
            for seen in range(1 << games):
                sp = 0.0
                for s in range(games):
                    sp += table[2 * mine + ((seen >> s) & 1)]
                sums[((mine * (bits + 1) + games) << bits) | seen] = sp


@njit(**OUTER)
def _take_into(src, order, out):  # pragma: no cover - compiled
    """``out[:] = src[order]`` into a given (maybe strided) array."""
    for i in range(order.shape[0]):
        out[i] = src[order[i]]
