"""Booking a summarised stretch as one block: every per-step column from a handful of array calls.

Why: ``sim.metrics.record_steps`` computes a stretch's columns metric by metric (some
twenty functions, ~40 small numpy calls, ~0.3 ms whatever the population), which at 10^3
agents costs about as much as the compiled loop that played the steps. A stretch whose loop
computed the engine's own metrics (``Stretch.summarised``) and that opts in
(``Stretch.one_block``) needs no per-agent array: its decision and compliance sums are one
product of its outcome counts with weights kept per model, its ratios one division, the rest
the loop's own columns, written into one (columns, K) block that the series keeps as it is.
Where a step is anything but plain (evolution, learners, a metric name an environment
shares with the engine's) the general path books it.

The same values as ``record_steps``: the sums are of small integers, exact in any order; each
ratio is the same IEEE division; the float columns are the loop's, or the same expressions on
them, and the run's welfare and bounds are added step by step as there
(``tests/test_summary_book.py`` compares both paths stretch by stretch, bit for bit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from agents.spec import Level
from scenarios.metric_registry import METRICS, Metric
from scenarios.stretch import SUMMARY, Stretch
from sim import metrics as M
from sim.series import Series

if TYPE_CHECKING:
    from sim.model import SpecModel

#: The engine's per-step metrics in registration order: the block's layout assumes exactly these.
EXPECTED = ("conflicts", "violations", "deceptions", "covert_acts", "cooperation_rate", "compliance_rate",
            "compliance.", "welfare", "efficiency", "gini", "trust_mean", "trust_calibration",
            "injections_attempted", "injections_obeyed", M.ENVIRONMENT_SLOT, "payoff.", "payoff_focal",
            "payoff_background", "share.", "fixation", "overrides.", "overrides")
#: The four decision counts that are columns as they are, in the series' order.
COUNTED = ("conflicts", "violations", "deceptions", "covert_acts")
_SUM = {name: c for c, name in enumerate(M.DECISION_SUMS)}
_WELFARE, _GINI, _TRUST, _CALIBRATION = (SUMMARY.index(name) for name in
                                        ("welfare", "gini", "trust_mean", "trust_calibration"))


class Weights(NamedTuple):
    """The model's part of a layout, made with the model (``prepare``) and kept while the outcomes,
    principles and groups it was made from are the same objects (per model, and per process in
    ``_WEIGHTS``).

    ``rows`` (10 + 2P, outcomes): the four ``COUNTED`` sums; the ratios' numerators (cooperative
    moves, checks that held, then per principle); their denominators (moves, checks that applied,
    then per principle); decisions; decisions that served an injection.
    """

    groups: int
    rows: np.ndarray
    ids: tuple[str, ...]
    conflicts: bool              # some outcome has conflicts (by level in the run totals)
    divisor: np.ndarray          # ``sim.metrics._group_layout``'s parts
    named: np.ndarray
    parts: tuple[tuple[np.ndarray | None, object], ...]  # (columns, None for all; size)
    payoff_names: tuple[str, ...]
    levels: np.ndarray           # (LEVELS x LEVELS, outcomes): each outcome's conflicts by level pair


class Layout(NamedTuple):
    """A stretch's layout: the model's weights and the stretch's own column names."""

    weights: Weights
    counters: tuple[str, ...]    # counters that are columns of their own (not the injection counts)
    env: tuple[str, ...]
    pairwise: bool
    tail: tuple[str, ...]        # names from ``welfare`` to the last payoff column, then ``evolved``
    evolved: tuple[str, ...]     # the stretch's evolved columns (``share.*``, ``fixation``), in order


def prepare(model: SpecModel) -> None:
    """Make the model's block weights with the model, as ``metrics.prepare`` makes the table's
    (an environment that ``books_in_blocks`` has its first stretch's cells by then); none for a
    model whose stretches all book the general way."""
    if _books_here(model):
        _weights(model)


def _books_here(model: SpecModel) -> bool:
    """Whether the model's stretches may book here: learners book the general way (an evolving
    population's stretch books here when it brings its evolved columns, ``book``)."""
    return model.learning is None


class Plan(NamedTuple):
    """What a model's stretches book where, made at its first and replayed while what it was made
    from is the same (``_plan``): the layout, and the block's rows when every principle applied."""

    computed: object             # the registry's list of computed metrics
    table: object                # the decision table, its outcomes and principles
    n_out: int
    p: int
    group_of: np.ndarray
    groups: int
    counters: tuple[str, ...]    # the stretch's counter and environment column names
    env: tuple[str, ...]
    evolved: tuple[str, ...]
    layout: Layout | None
    names: list[str]             # the block's rows (every principle present); never mutated
    #: Per set of principles present (some not applied in the stretch): the rows of the block
    #: with every principle that stay, and their names.
    kept: dict[tuple[int, ...], tuple[list[int], list[str]]]


def book(model: SpecModel, rec: Stretch) -> bool:
    """Book ``rec``'s steps after ``model.steps`` as ``collect.book_stretch`` would; False (nothing
    booked) when the stretch needs the general path."""
    if not _books_here(model) or bool(rec.evolved) != (model.evolution is not None):
        return False  # an evolving population's stretch books here only with its evolved columns
    plan = _plan(model, rec)
    layout = plan.layout
    if layout is None:
        return False
    k = rec.steps
    n_out = plan.n_out
    counts = rec.arrays.counts
    width = min(counts.shape[1], n_out)  # outcomes made after the last counted step: never counted
    if counts.shape != (k, width):
        counts = counts[:k, :width]
    w = layout.weights
    weights = w.rows if width == w.rows.shape[1] else w.rows[:, :width]
    sums = weights @ counts.T  # (rows, K): integers, exact in any order
    grand = sums.sum(axis=1).tolist()
    p = plan.p
    ratios = 2 + p
    at = 4 + ratios  # the denominators
    present = tuple(q for q in range(p) if grand[at + 2 + q] > 0)  # principles that applied in some step
    names = plan.names
    # The block with a row per principle; those that never applied are dropped at the end.
    block = np.empty((len(names), k))
    block[:4] = sums[:4]
    # Every ratio in one division; NaN where nothing applied, as ``metrics._ratio`` leaves it.
    den = sums[at:at + ratios]
    r = 4 + ratios
    block[4:r] = np.nan
    np.divide(sums[4:at], den, out=block[4:r], where=den > 0)
    summary = rec.arrays.summary
    if summary.shape[0] != k:
        summary = summary[:k]
    welfare_row = r
    welfare = block[r]
    welfare[:] = summary[:, _WELFARE]
    bounds = None if rec.bounds is None else rec.bounds[:k]  # each step's own, where they changed
    M.efficiency_steps(welfare, bounds, model.env.bounds, out=block[r + 1])
    block[r + 2] = summary[:, _GINI]
    r += 3
    if layout.pairwise:
        block[r] = summary[:, _TRUST]
        block[r + 1] = summary[:, _CALIBRATION]
        r += 2
    counters = rec.counters
    injections = r
    block[r] = counters["injections_attempted"][:k] if "injections_attempted" in counters else 0.0
    block[r + 1] = counters["injections_obeyed"][:k] if "injections_obeyed" in counters else sums[at + ratios + 1]
    r += 2
    for name in layout.counters:
        block[r] = counters[name][:k]
        r += 1
    env = rec.env_block
    if env is not None and env[0] == layout.env:
        cols = env[1]
        r2 = r + cols.shape[1]
        block[r:r2] = cols.T if cols.shape[0] == k else cols[:k].T
        r = r2
    else:
        for name in layout.env:
            block[r] = rec.env_metrics[name][:k]
            r += 1
    block[r] = float(np.count_nonzero(model.alive))
    r = _payoffs(w, rec.arrays.group_sums[:k], block, r + 1)
    for name in layout.evolved:  # shares and fixation, as the stretch evolved them
        block[r] = rec.evolved[name][:k]
        r += 1
    assert r == len(names)
    _totals(model, layout, grand, counts.sum(axis=0), block, injections, welfare_row, counters, bounds)
    if len(present) < p:
        rows, names = plan.kept.get(present) or _kept(plan, present)
        block = block[rows]
    _series(model, names, block, den[2:, 0].tolist(), present)
    last = dict(zip(names, block[:, -1].tolist(), strict=True))
    for c in range(6, 6 + len(present)):  # the compliance.* rows
        name = names[c]
        if last[name] != last[name]:  # NaN: the principle did not apply at the last step
            del last[name]
    model.last_metrics = last
    return True


def _kept(plan: Plan, present: tuple[int, ...]) -> tuple[list[int], list[str]]:
    """The rows of a block with every principle that stay when only ``present`` applied, and their names."""
    p = plan.p
    rows = [*range(6), *[6 + q for q in present], *range(6 + p, len(plan.names))]
    got = plan.kept[present] = (rows, [plan.names[i] for i in rows])
    return got


def _payoffs(w: Weights, group_sums: np.ndarray, block: np.ndarray, r: int) -> int:
    """``sim.metrics.group_payoffs`` into rows ``r``... of ``block``; returns the next row."""
    sums = np.ascontiguousarray(group_sums)
    named = w.named
    if len(named):
        means = sums / w.divisor  # one division per element, as there
        block[r:r + len(named)] = means.T[named]
        r += len(named)
    for cols, size in w.parts:
        picked = sums if cols is None else np.ascontiguousarray(sums[:, cols])
        block[r] = picked.sum(axis=-1) / size
        r += 1
    return r


def _series(model: SpecModel, names: list[str], block: np.ndarray, applied_first: list[float],
            present: list[int]) -> None:
    """Extend the series by the block's rows: a run's first booking keeps the block's rows as its
    columns, a later one appends them (``Series.extend_rows``); a new sparse name goes through
    ``extend_series``, which places it by its first step."""
    series = model.series
    # A principle first applied after the stretch's first step joins the series after the
    # others (``extend_series``' order for sparse names): the general way sorts that out.
    if isinstance(series, Series):
        if not len(series) and not model.steps and all(applied_first[q] > 0 for q in present):
            series.start_block(names, block)
            return
        new = [name for name in names if name not in series]
        if not any(M._sparse(name) for name in new):  # new columns join in the block's order
            for name in new:
                series[name] = [float("nan")] * model.steps
            series.extend_rows(dict(zip(names, block, strict=True)), block.shape[1])
            return
    M.extend_series(series, dict(zip(names, block, strict=True)), model.steps, block.shape[1])


def _totals(model: SpecModel, layout: Layout, grand: list[float], outcomes: np.ndarray, block: np.ndarray,
            injections: int, welfare_row: int, counters: dict[str, np.ndarray],
            bounds: np.ndarray | None = None) -> None:
    """``Totals.add`` of the block: the same sums (integers: exact), welfare and bounds step by step."""
    tot = model.totals
    k = block.shape[1]
    w = layout.weights
    p = len(w.ids)
    at = 6 + p  # the denominators
    counted = tot.counted
    step = dict(zip(COUNTED, grand[:4], strict=True))
    step.update(cooperative_moves=grand[4], moves=grand[at], decisions=grand[at + 2 + p])
    for name in M.DECISION_TOTALS:
        counted[name] = counted.get(name, 0.0) + step[name]
    # Integer counts: a row's sum is exact, whichever reduction takes it.
    for name, v in zip(M.INJECTIONS, block[injections:injections + 2].sum(axis=1).tolist(), strict=True):
        counted[name] = counted.get(name, 0.0) + v
    for name, v in counters.items():
        if name not in M.INJECTIONS:
            counted[name] = counted.get(name, 0.0) + M._total(v[:k])
    tot.applied = _plus(tot.applied, np.array(grand[at + 2:at + 2 + p]))
    tot.held = _plus(tot.held, np.array(grand[6:at]))
    width = len(outcomes)
    n_out = w.rows.shape[1]
    if width < n_out:  # the general path's counts have a zero column per outcome made since
        outcomes = np.concatenate([outcomes, np.zeros(n_out - width, outcomes.dtype)])
    if w.conflicts and grand[0] > 0:  # else zeros would be added: the same levels
        # ``metrics.level_pairs`` as one product: integer counts, exact in any order.
        tot.levels = tot.levels + w.levels @ outcomes
    tot.outcomes = _plus(tot.outcomes, outcomes)
    tot.add_steps(block[welfare_row], bounds, model.env.bounds)


def _plus(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``metrics._add``: a new array, ``a + b`` with the shorter one read as padded by zeros
    (counts: no -0.0, so a first ``0.0 + b`` is ``b``)."""
    if len(a) == len(b):
        return a + b
    return np.array(b, dtype=np.float64) if not len(a) else M._add(a, b)


def _plan(model: SpecModel, rec: Stretch) -> Plan:
    """This stretch's plan: the model's last, while the registry, the table's outcomes and
    principles, the groups and the stretch's column names are what it was made for (weights
    depend on nothing else: outcome, compliance and conflict rows are only ever appended
    together); else a new one. Its layout is None when the general path must book it."""
    table = model.decisions
    computed = METRICS.computed()
    n_out = table.n_outcomes
    p = len(table.principle_ids)
    counters, env, evolved = tuple(rec.counters), tuple(rec.env_metrics), tuple(rec.evolved)
    kept: Plan | None = model.__dict__.get("_summary_plan")
    if (kept is not None and kept.computed is computed and kept.table is table and kept.n_out == n_out
            and kept.p == p and kept.group_of is model.group_of and kept.groups == len(model.groups)
            and kept.counters == counters and kept.env == env and kept.evolved == evolved):
        return kept
    layout = _layout(model, rec, computed)
    names, rows_kept = ([], {}) if layout is None else _names(layout)
    plan = Plan(computed, table, n_out, p, model.group_of, len(model.groups), counters, env, evolved, layout,
                names, rows_kept)
    model.__dict__["_summary_plan"] = plan
    return plan


def _names(layout: Layout) -> tuple[list[str], dict[tuple[int, ...], tuple[list[int], list[str]]]]:
    """A block's row names: the counted rows, the rates, a compliance row per principle id, the tail;
    and the rows kept per set of principles present (shared by every plan with these names)."""
    key = (layout.weights.ids, layout.tail)
    got = _NAMES.get(key)
    if got is None:
        names = [*COUNTED, "cooperation_rate", "compliance_rate", *[f"compliance.{i}" for i in layout.weights.ids],
                 *layout.tail]
        got = _keep(_NAMES, key, (names, {}))
    return got


def _layout(model: SpecModel, rec: Stretch, computed: list[Metric]) -> Layout | None:
    """This stretch's layout; None when the general path must book it."""
    engine = _engine(computed)
    if engine is None:
        return None
    weights = _weights(model)
    pairwise = bool(model.env.pairwise)
    key = (engine, weights.payoff_names, pairwise, tuple(rec.counters), tuple(rec.env_metrics), tuple(rec.evolved))
    parts = _PARTS.get(key, _MISSING)
    if parts is _MISSING:
        parts = _keep(_PARTS, key, _layout_parts(engine, weights.payoff_names, pairwise, rec))
    return None if parts is None else Layout(weights, *parts)


def _layout_parts(engine: tuple[frozenset[str], tuple[str, ...]], payoff_names: tuple[str, ...], pairwise: bool,
                  rec: Stretch) -> tuple[tuple[str, ...], tuple[str, ...], bool, tuple[str, ...],
                                         tuple[str, ...]] | None:
    """A layout's parts but the weights (``Layout``'s fields after them), from names alone; None
    when the general path must book the stretch."""
    names, families = engine
    counters = tuple(c for c in rec.counters if c not in M.INJECTIONS)
    taken = [*counters, *rec.env_metrics]
    # A name shared with the engine's columns: the general path sorts it out.
    if len(set(taken)) != len(taken) or any(name in names or name.startswith(families) for name in taken):
        return None
    # The registry's order: every ``share.`` column (in the stretch's order), then ``fixation``.
    evolved = (*(name for name in rec.evolved if name.startswith("share.")),
               *(("fixation",) if "fixation" in rec.evolved else ()))
    if len(evolved) != len(rec.evolved):
        return None  # a column no engine metric reads: the general path leaves it out
    tail = ("welfare", "efficiency", "gini", *(("trust_mean", "trust_calibration") if pairwise else ()),
            *M.INJECTIONS, *counters, *rec.env_metrics, M.ENVIRONMENT_SLOT, *payoff_names, *evolved)
    return counters, tuple(rec.env_metrics), pairwise, tail, evolved


def _weights(model: SpecModel) -> Weights:
    """The model's weights: kept with the model, else found in ``_WEIGHTS`` (a kept table hands
    the runs of a sweep the same matrices), else made."""
    table = model.decisions
    matrix = table.count_matrix(table.n_outcomes)
    levels = table.level_rows()
    same = (matrix, levels, model.group_of)  # objects replaced whenever they change
    kept: tuple[tuple[object, ...], Weights] | None = model.__dict__.get("_summary_weights")
    if kept is not None and kept[1].groups == len(model.groups) and all(
            a is b for a, b in zip(kept[0], same, strict=True)):
        return kept[1]
    group_layout = M._group_layout(model)
    p = len(table.principle_ids)
    ids = tuple(table.principle_ids[:p])
    key = (id(matrix), id(levels), id(group_layout), ids)
    hit = _WEIGHTS.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], (matrix, levels, group_layout), strict=True)):
        weights = hit[1]
    else:
        weights = _made_weights(matrix, levels, group_layout, ids, len(model.groups))
        _keep(_WEIGHTS, key, ((matrix, levels, group_layout), weights))  # held: the ids stay theirs
    model.__dict__["_summary_weights"] = (same, weights)
    return weights


def _made_weights(matrix: np.ndarray, levels: dict[str, np.ndarray], group_layout: M._Layout,
                  ids: tuple[str, ...], groups: int) -> Weights:
    """Weights from a table's count matrix and conflict levels and the groups' layout."""
    p = len(ids)
    n = matrix.shape[0]
    m = matrix.T
    applied, held = m[8:8 + p], m[8 + p:8 + 2 * p]
    rows = np.empty((10 + 2 * p, n))  # as ``Weights`` lists them
    rows[:4] = m[_SUM["conflicts"]:_SUM["covert_acts"] + 1]
    rows[4] = m[_SUM["cooperative_moves"]]
    rows[5] = held.sum(axis=0)
    rows[6:6 + p] = held
    rows[6 + p] = m[_SUM["moves"]]
    rows[7 + p] = applied.sum(axis=0)
    rows[8 + p:8 + 2 * p] = applied
    rows[8 + 2 * p] = m[_SUM["decisions"]]
    rows[9 + 2 * p] = m[_SUM["served_injection"]]
    divisor, named, parts = group_layout
    pairs = len(Level) ** 2
    at = levels["outcome"] < n
    by_level = np.bincount(levels["pair"][at] * n + levels["outcome"][at], minlength=pairs * n)
    return Weights(groups, rows, ids, bool(len(levels["outcome"])), divisor,
                   np.array([g for _, g in named], np.int64),
                   tuple((None if mask.all() else np.flatnonzero(mask), size) for _, mask, size in parts),
                   (*[name for name, _ in named], *[name for name, _, _ in parts]),
                   by_level.reshape(pairs, n).astype(np.float64))


#: Weights made in this process, by the ids of what they were made from, which the entry holds
#: (so the ids stay theirs): the runs of a sweep whose kept table hands each the same matrices
#: find theirs made. Layout parts and row names, by the names they derive from. Each is
#: cleared when it reaches ``_MAX_KEPT`` entries.
_WEIGHTS: dict[tuple[int, int, int, tuple[str, ...]], tuple[tuple[object, ...], Weights]] = {}
_MAX_KEPT = 32
_PARTS: dict[tuple[object, ...], tuple[tuple[str, ...], tuple[str, ...], bool, tuple[str, ...],
                                           tuple[str, ...]] | None] = {}
_NAMES: dict[tuple[tuple[str, ...], tuple[str, ...]],
             tuple[list[str], dict[tuple[int, ...], tuple[list[int], list[str]]]]] = {}
_MISSING = object()


def _keep[V](memo: dict[Any, Any], key: Any, value: V) -> V:
    """File ``value`` under ``key`` and return it, emptying ``memo`` first if it is full (as
    ``sim.lattice`` keeps its boards: a long session's memos stay small)."""
    if len(memo) >= _MAX_KEPT:
        memo.clear()
    memo[key] = value
    return value


#: The registry's list of computed metrics, and what ``_engine`` made of it.
_ENGINE: tuple[object, tuple[frozenset[str], tuple[str, ...]] | None] = (None, None)


def _engine(computed: list[Metric]) -> tuple[frozenset[str], tuple[str, ...]] | None:
    """The computed metrics' names and family prefixes, or None unless they are ``EXPECTED``
    (kept while the registry's list is the same object: a new one after every change)."""
    global _ENGINE
    if _ENGINE[0] is not computed:
        names = tuple(m.name for m in computed)
        _ENGINE = (computed, (frozenset(names), tuple(n for n in names if n.endswith(".")))
                   if names == EXPECTED else None)
    return _ENGINE[1]


