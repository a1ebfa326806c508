"""Booking a summarised stretch as one block: every per-step column and run total in one compiled call.

Why: ``sim.metrics.record_steps`` computes a stretch's columns metric by metric (some
twenty functions, ~40 small numpy calls, ~0.3 ms whatever the population), which at 10^3
agents costs about as much as the compiled loop that played the steps. A stretch whose loop
computed the engine's own metrics (``Stretch.summarised``) and that opts in
(``Stretch.one_block``) needs no per-agent array: its decision and compliance sums are its
outcome counts weighted by the table's count matrix, its ratios one division each, the rest
the loop's own columns, written into one (columns, K) block that the series keeps as it is.
Where a step is anything but plain (evolution, learners, a metric name an environment
shares with the engine's) the general path books it. Those numbers and the run totals' are
one call of ``sim.summary_kernel.fill`` when numba is loaded (a numpy twin, ``_numbers``,
computed them in some twenty array calls, each a few microseconds in a fresh model's run);
what stays here is the block's names and the few rows the stretch hands over as they are.

The same values as ``record_steps``: the sums are of small integers, exact in any order; each
ratio is the same IEEE division; the float columns are the loop's, or the same expressions on
them, and the run's welfare and bounds are added step by step as there
(``tests/test_summary_book.py`` compares both paths, kernel and numpy twin, stretch by stretch,
bit for bit).
"""

from __future__ import annotations

from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from agents.kernel_loader import worth_loading
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
_NO_BOUNDS = np.empty((0, 2))  # the kernel's "every step against ``env.bounds``"


class Groups(NamedTuple):
    """What a block reads of the groups' layout (``sim.metrics._group_layout``), kept per process
    with it (``_GROUPS``): ``group_payoffs``' divisor, populated groups and focal/background parts."""

    divisor: np.ndarray
    named: np.ndarray            # the populated groups' indices (int64)
    parts: tuple[tuple[np.ndarray | None, object], ...]  # (columns, None for all; size)
    payoff_names: tuple[str, ...]
    # ``parts`` for the compiled kernel: every part's columns one after another, where each
    # part ends, its size (a float: the same division).
    part_cols: np.ndarray
    part_ends: np.ndarray
    part_sizes: np.ndarray


class Weights(NamedTuple):
    """The model's part of a layout, kept while the outcomes, principles and groups it was made
    from are the same objects: the table's count matrix and conflict levels as the table keeps
    them (nothing to make: the block's numbers read them as they are) and the groups'."""

    groups: int
    matrix: np.ndarray           # ``DecisionTable.count_matrix`` (outcomes, 8 + 2P)
    ids: tuple[str, ...]
    conflicts: bool              # some outcome has conflicts (by level in the run totals)
    level_pair: np.ndarray       # ``DecisionTable.level_rows``: each conflict's level pair and outcome
    level_outcome: np.ndarray
    pay: Groups

    @property
    def payoff_names(self) -> tuple[str, ...]:
        return self.pay.payoff_names


class Layout(NamedTuple):
    """A stretch's layout: the model's weights and the stretch's own column names."""

    weights: Weights
    counters: tuple[str, ...]    # counters that are columns of their own (not the injection counts)
    env: tuple[str, ...]
    pairwise: bool
    tail: tuple[str, ...]        # names from ``welfare`` to the last payoff column, then ``evolved``
    evolved: tuple[str, ...]     # the stretch's evolved columns (``share.*``, ``fixation``), in order
    injections: int              # the block's rows: the injection counts, the first payoff, the first evolved
    payoffs: int
    evolved_at: int


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


def book(model: SpecModel, rec: Stretch, before: Before | None = None) -> bool:
    """Book ``rec``'s steps after ``model.steps`` as ``collect.book_stretch`` would; False (nothing
    booked) when the stretch needs the general path. ``before``: the stretch has a join inside
    (``book_joined``), and these are its steps before it."""
    if not _books_here(model) or bool(rec.evolved) != (model.evolution is not None):
        return False  # an evolving population's stretch books here only with its evolved columns
    plan = _plan(model, rec)
    layout = plan.layout
    if layout is None:
        return False
    k = rec.steps
    names = plan.names
    # A row per principle; the block's numbers drop those that applied at no step.
    block = np.empty((len(names), k))
    counters = rec.counters
    r = layout.injections
    attempted = "injections_attempted" in counters
    obeyed = "injections_obeyed" in counters
    if attempted:
        block[r] = counters["injections_attempted"][:k]
    if obeyed:
        block[r + 1] = counters["injections_obeyed"][:k]
    r += 2
    for name in layout.counters:
        block[r] = counters[name][:k]
        r += 1
    env = rec.env_block
    if env is not None and env[0] == layout.env:
        cols = env[1]
        block[r:r + cols.shape[1]] = cols.T if cols.shape[0] == k else cols[:k].T
    else:
        for name in layout.env:
            block[r] = rec.env_metrics[name][:k]
            r += 1
    r = layout.evolved_at
    for name in layout.evolved:  # shares and fixation, as the stretch evolved them
        block[r] = rec.evolved[name][:k]
        r += 1
    w = layout.weights
    tot = model.totals
    p = plan.p
    n_rows, n_out = 10 + 2 * p, w.matrix.shape[0]
    head = n_rows + 5 + len(layout.counters)  # the weighted counts' sums, the run's welfare and bounds, counters'
    # As ``sim.summary_kernel.fill`` lays it out: ``head``, then the run totals' arrays.
    out = np.empty(head + max(len(tot.applied), p) + max(len(tot.held), p) + max(len(tot.outcomes), n_out)
                   + len(tot.levels))
    kernel = worth_loading("sim.summary_kernel", 0)  # numba loaded: one compiled call, else numpy's
    src, tail = (None, None) if before is None else _sources(before.groups, layout.weights.payoff_names)
    kept, first = (_numbers(model, rec, plan, block, out, attempted, obeyed) if kernel is None
                   else _compiled(kernel, model, rec, plan, block, out, attempted, obeyed, before, src))
    if before is not None:
        if not first:
            return False  # a principle first applied later: its column's place is the general way's
        if kernel is None:
            _before_rows(before, src, rec, block, layout.payoffs - (p - kept))
    sums = out[:head].tolist()
    if kept < p:
        at = 8 + p  # the principles' denominators
        present = tuple(q for q in range(p) if sums[at + q] > 0)  # principles that applied in some step
        names = (plan.kept.get(present) or _kept(plan, present))[1]
        block = block[:len(names)]
    # Counters counted at some steps only (NaN at the others, as trust-game's ``rewired`` at a
    # step that cut no tie; their block sums are NaN): sparse, as ``metrics._columns`` has them.
    partial = [name for name, v in zip(layout.counters, sums[n_rows + 5:], strict=True) if v != v]
    _totals(model, layout, sums, out)
    last = dict(zip(names, block[:, -1].tolist(), strict=True))  # the block's order, as the general path's
    for c in range(6, 6 + kept):  # the compliance.* rows
        name = names[c]
        if last[name] != last[name]:  # NaN: the principle did not apply at the last step
            del last[name]
    if partial:
        _partial_totals(model, counters, k, partial)
        for name in partial:
            if last[name] != last[name]:  # not counted at the last step
                del last[name]
        names, block = _sparse_last(names, block, partial)
    if tail:
        # The columns of groups the join populated join the series after the others (as stepping adds them).
        order = [*range(len(names) - len(tail)), *(len(names) - len(tail) + r for r in tail)]
        names, block = [names[r] for r in order], block[order]
    _series(model, names, block, first)
    model.last_metrics = last
    return True


class Before(NamedTuple):
    """The steps of a stretch before the join inside it (``book_joined``): how many, the living
    count and the groups' layout then."""

    steps: int
    living: float
    groups: Groups


def book_joined(model: SpecModel, rec: Stretch) -> bool:
    """Book a stretch with a join inside it (``Stretch.joined``) as one block, as
    ``collect.book_joined``'s two bookings would: the block is the population's after the join,
    and its steps before the join get the living count and payoff columns of the population
    before it (a group the join populates: NaN there, its columns after the others, where
    stepping adds them). False (nothing booked) where the two parts must be booked apart:
    counters, evolution, a principle first applied inside the stretch."""
    joined = rec.joined
    if joined is None or rec.counters or rec.evolved or not (rec.one_block and rec.summarised):
        return False
    groups = _groups(M.group_layout_of(joined.group_of, model.groups))  # the population's before the join
    return book(model, rec, Before(joined.step - model.steps - 1, float(np.count_nonzero(joined.alive)), groups))


def _sources(groups: Groups, names: tuple[str, ...]) -> tuple[np.ndarray, list[int]]:
    """Per payoff column after a join (``names``), its column before it (``groups``' layout); -1:
    none (a join only populates groups, so every column before it is one after). And the order
    of the payoff columns in the series (those before the join first), if not theirs (kept
    per process, as the layouts are)."""
    hit = _JOINED.get((id(groups), names))
    if hit is not None and hit[0] is groups:
        return hit[1], hit[2]
    had = groups.payoff_names
    assert set(had) <= set(names)
    src = np.array([had.index(name) if name in had else -1 for name in names], np.int64)
    tail = np.argsort(src < 0, kind="stable").tolist() if src.min() < 0 else []
    _keep(_JOINED, (id(groups), names), (groups, src, tail))  # held: the id stays its
    return src, tail


def _before_rows(before: Before, src: np.ndarray, rec: Stretch, block: np.ndarray, r0: int) -> None:
    """``summary_kernel.fill_joined``'s rows before the join, with numpy (``r0``: the first payoff row)."""
    k = before.steps
    pay = np.empty((len(before.groups.payoff_names), k))
    _payoffs(before.groups, rec.arrays.group_sums[:k], pay, 0)
    block[r0 - 1, :k] = before.living
    for c, j in enumerate(src.tolist()):
        block[r0 + c, :k] = pay[j] if j >= 0 else np.nan


def _partial_totals(model: SpecModel, counters: dict[str, np.ndarray], k: int, partial: list[str]) -> None:
    """``Totals.add`` of partial counters (which ``_totals`` leaves out): the steps that counted
    them, nothing where none did."""
    counted = model.totals.counted
    for name in partial:
        v = counters[name][:k]
        v = v[~np.isnan(v)]
        if len(v):
            counted[name] = counted.get(name, 0.0) + M._total(v)


def _sparse_last(names: list[str], block: np.ndarray, partial: list[str]) -> tuple[list[str], np.ndarray]:
    """The block's rows in the order new columns join the series (``metrics.extend_series``):
    a partial counter after the others by the first step that counts it, ties in block order."""
    at = {name: names.index(name) for name in partial}
    firsts = {name: int(np.argmax(~np.isnan(block[at[name]]))) for name in partial}
    if not any(firsts.values()):
        return names, block
    order = sorted(range(len(names)), key=lambda c: firsts.get(names[c], 0))
    return [names[c] for c in order], block[order]


def _kept(plan: Plan, present: tuple[int, ...]) -> tuple[list[int], list[str]]:
    """The rows of a block with every principle that stay when only ``present`` applied, and their names."""
    p = plan.p
    rows = [*range(6), *[6 + q for q in present], *range(6 + p, len(plan.names))]
    got = plan.kept[present] = (rows, [plan.names[i] for i in rows])
    return got


def _compiled(kernel: ModuleType, model: SpecModel, rec: Stretch, plan: Plan, block: np.ndarray, out: np.ndarray,
              attempted: bool, obeyed: bool, before: Before | None = None,
              src: np.ndarray | None = None) -> tuple[int, bool]:
    """``_numbers`` in one compiled call (``sim.summary_kernel.fill``; ``fill_joined`` with the
    steps ``before`` a join inside the stretch, ``src`` their payoff columns)."""
    layout = plan.layout
    assert layout is not None
    w = layout.weights
    g = w.pay
    a = rec.arrays
    counts = a.counts
    base, opt = model.env.bounds
    tot = model.totals
    fill = kernel.fill
    if before is not None:
        b = before.groups
        fill = partial(kernel.fill_joined, before.steps, before.living, src, b.divisor, b.named, b.part_cols,
                       b.part_ends, b.part_sizes)
    got: tuple[int, bool] = fill(
        w.matrix, counts, rec.steps, min(counts.shape[1], plan.n_out), a.summary,
        _NO_BOUNDS if rec.bounds is None else rec.bounds, float(base), float(opt), layout.pairwise, model.alive,
        a.group_sums, g.divisor, g.named, g.part_cols, g.part_ends, g.part_sizes, w.level_pair, w.level_outcome,
        w.conflicts, block,
        6 + plan.p, layout.payoffs, 2 + len(layout.counters), attempted, obeyed, tot.welfare, tot.baseline,
        tot.optimum, tot.applied, tot.held, tot.outcomes, tot.levels, out)
    return got


def _numbers(model: SpecModel, rec: Stretch, plan: Plan, block: np.ndarray, out: np.ndarray, attempted: bool,
             obeyed: bool) -> tuple[int, bool]:
    """``sim.summary_kernel.fill`` with numpy, where numba is not loaded (the same values): the
    block's rows but those the stretch hands over, without the compliance rows of principles
    that applied at no step; ``out`` as ``fill`` lays it out. Returns how many principles
    applied, and whether each of them applied at the first step."""
    layout = plan.layout
    assert layout is not None
    k = rec.steps
    n_out = plan.n_out
    counts = rec.arrays.counts
    width = min(counts.shape[1], n_out)  # outcomes made after the last counted step: never counted
    if counts.shape != (k, width):
        counts = counts[:k, :width]
    w = layout.weights
    rows = _rows(w)
    weights = rows if width == rows.shape[1] else rows[:, :width]
    sums = weights @ counts.T  # (rows, K): integers, exact in any order
    n_rows = len(sums)
    grand = sums.sum(axis=1)
    out[:n_rows] = grand
    p = plan.p
    ratios = 2 + p
    at = 4 + ratios  # the denominators
    block[:4] = sums[:4]
    # Every ratio in one division; NaN where nothing applied, as ``metrics._ratio`` leaves it.
    den = sums[at:at + ratios]
    r = 4 + ratios
    block[4:r] = np.nan
    np.divide(sums[4:at], den, out=block[4:r], where=den > 0)
    summary = rec.arrays.summary
    if summary.shape[0] != k:
        summary = summary[:k]
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
    if not attempted:
        block[r] = 0.0
    if not obeyed:
        block[r + 1] = sums[at + ratios + 1]
    block[layout.payoffs - 1] = float(np.count_nonzero(model.alive))
    _payoffs(w.pay, rec.arrays.group_sums[:k], block, layout.payoffs)
    tot = model.totals
    out[n_rows:n_rows + 3] = M.run_sums((tot.welfare, tot.baseline, tot.optimum), welfare, bounds, model.env.bounds)
    o = n_rows + 3
    for row in block[r:r + 2 + len(layout.counters)]:
        out[o] = M._total(row)
        o += 1
    outcomes = np.zeros(n_out)  # zero for each outcome made since, as the general path counts
    outcomes[:width] = counts.sum(axis=0)
    for before, now in ((tot.applied, grand[at + 2:at + 2 + p]), (tot.held, grand[6:at]), (tot.outcomes, outcomes)):
        added = _plus(before, now)
        out[o:o + len(added)] = added
        o += len(added)
    # ``metrics.level_pairs`` as one product: integer counts, exact in any order.
    out[o:] = tot.levels + _level_matrix(w) @ outcomes if w.conflicts and grand[0] > 0 else tot.levels
    present = tuple(np.flatnonzero(grand[at + 2:at + 2 + p] > 0).tolist())
    kept = _kept(plan, present)[0]
    block[:len(kept)] = block[kept]
    return len(present), bool((den[2:, 0][list(present)] > 0).all())


def _payoffs(w: Groups, group_sums: np.ndarray, block: np.ndarray, r: int) -> int:
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


def _series(model: SpecModel, names: list[str], block: np.ndarray, first: bool) -> None:
    """Extend the series by the block's rows: a run's first booking keeps the block's rows as its
    columns, a later one appends them (``Series.extend_rows``); a new sparse name goes through
    ``extend_series``, which places it by its first step. ``first``: every principle in the
    block applied at its first step."""
    series = model.series
    # A principle first applied after the stretch's first step joins the series after the
    # others (``extend_series``' order for sparse names): the general way sorts that out.
    if isinstance(series, Series):
        if first and not len(series) and not model.steps:
            series.start_block(names, block)
            return
        if not any(M._sparse(name) for name in names if name not in series):  # new columns join in the block's order
            series.add_block(names, block, model.steps)
            return
    M.extend_series(series, dict(zip(names, block, strict=True)), model.steps, block.shape[1])


def _totals(model: SpecModel, layout: Layout, sums: list[float], out: np.ndarray) -> None:
    """``Totals.add`` of the block from its numbers (``sums`` the first of ``out``, as the kernel
    laid them out): the same sums (integers: exact), welfare and bounds added step by step."""
    tot = model.totals
    w = layout.weights
    p = len(w.ids)
    n_rows, n_out = 10 + 2 * p, w.matrix.shape[0]
    at = 6 + p  # the denominators
    counted = tot.counted
    rows = (0, 1, 2, 3, at + 2 + p, 4, at)  # ``_DECISION_TOTALS``' rows (``_rows``)
    for name, row in zip(_DECISION_TOTALS, rows, strict=True):
        counted[name] = counted.get(name, 0.0) + sums[row]
    o = n_rows + 3
    for name in (*M.INJECTIONS, *layout.counters):
        if sums[o] == sums[o]:  # NaN: a counter counted at some steps only (``_partial_totals``)
            counted[name] = counted.get(name, 0.0) + sums[o]
        o += 1
    # The new totals: views of ``out``, which nobody writes again (totals are replaced, never written).
    for name, n in (("applied", p), ("held", p), ("outcomes", n_out)):
        n = max(len(getattr(tot, name)), n)
        setattr(tot, name, out[o:o + n])
        o += n
    if w.conflicts and sums[0] > 0:  # else zeros would be added: the same levels
        tot.levels = out[o:]
    tot.welfare, tot.baseline, tot.optimum = sums[n_rows:n_rows + 3]


#: ``DECISION_TOTALS``' order, which ``_totals`` reads off the weighted counts' rows.
_DECISION_TOTALS = ("conflicts", "violations", "deceptions", "covert_acts", "decisions", "cooperative_moves", "moves")
assert M.DECISION_TOTALS == _DECISION_TOTALS


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
    # A new model's first stretch: the plan an earlier model made from equal outcomes, principles,
    # conflicts and groups (each model has a table of its own, so only their contents can tell).
    group_layout = M._group_layout(model)
    levels = table.level_rows()
    matrix, pair, outcome = table.count_matrix(n_out), levels["pair"], levels["outcome"]
    head = (id(computed), id(group_layout), n_out, p, tuple(table.principle_ids[:p]), len(model.groups), counters,
            env, evolved, bool(model.env.pairwise))
    # Tables restored from one kept state share its derived arrays (``DecisionTable._derived``),
    # which are replaced, never written: the same objects are the same contents. Asked first, as
    # the contents' bytes (~200 kB for a table of a thousand outcomes) cost ~0.1 ms to hash and compare.
    same = (group_layout, matrix, pair, outcome)
    seen = _SEEN.get((*head, *map(id, same[1:])))
    if seen is not None and all(a is b for a, b in zip(seen[0], same, strict=True)) and seen[1].computed is computed:
        plan = seen[1]._replace(table=table, group_of=model.group_of)
        model.__dict__["_summary_plan"] = plan
        return plan
    key = (*head, matrix.tobytes(), pair.tobytes(), outcome.tobytes())
    hit = _PLANS.get(key)
    if hit is not None and hit[0] is group_layout and hit[1].computed is computed:
        plan = hit[1]._replace(table=table, group_of=model.group_of)
    else:
        layout = _layout(model, rec, computed)
        names, rows_kept = ([], {}) if layout is None else _names(layout)
        plan = Plan(computed, table, n_out, p, model.group_of, len(model.groups), counters, env, evolved, layout,
                    names, rows_kept)
        hit = _keep(_PLANS, key, (group_layout, plan))  # held: the ids in the key stay theirs
    # Likewise held; the plan filed is the one above, not this model's (which holds its table).
    # Fewer entries than the plans': each holds a count matrix (kept states share theirs, but a
    # table made afresh has its own per run).
    _keep(_SEEN, (*head, *map(id, same[1:])), (same, hit[1]), _MAX_SEEN)
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
    parts = _PARTS[key] if key in _PARTS else _keep(_PARTS, key, _layout_parts(engine, weights.payoff_names,
                                                                               pairwise, rec))
    if parts is None:
        return None
    counters, env, pairwise, tail, evolved = parts
    injections = 9 + len(weights.ids) + (2 if pairwise else 0)  # after the ratios, welfare, efficiency, gini, trust
    payoffs = injections + 2 + len(counters) + len(env) + 1  # the counters, the environment's, ``alive``
    return Layout(weights, counters, env, pairwise, tail, evolved, injections, payoffs,
                  payoffs + len(weights.payoff_names))


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
    """The model's weights: kept with the model while what they were made from is the same, else made."""
    table = model.decisions
    matrix = table.count_matrix(table.n_outcomes)
    levels = table.level_rows()
    same = (matrix, levels, model.group_of)  # objects replaced whenever they change
    kept: tuple[tuple[object, ...], Weights] | None = model.__dict__.get("_summary_weights")
    if kept is not None and kept[1].groups == len(model.groups) and all(
            a is b for a, b in zip(kept[0], same, strict=True)):
        return kept[1]
    p = len(table.principle_ids)
    weights = Weights(len(model.groups), matrix, tuple(table.principle_ids[:p]), bool(len(levels["outcome"])),
                      levels["pair"], levels["outcome"], _groups(M._group_layout(model)))
    model.__dict__["_summary_weights"] = (same, weights)
    return weights


def _groups(layout: M._Layout) -> Groups:
    """The block's view of a groups' layout, made once per layout (they are kept per process)."""
    hit = _GROUPS.get(id(layout))
    if hit is not None and hit[0] is layout:
        return hit[1]
    divisor, named, parts = layout
    cols = [np.flatnonzero(mask) for _, mask, _ in parts]
    got = Groups(divisor, np.array([g for _, g in named], np.int64),
                 tuple((None if mask.all() else np.flatnonzero(mask), size) for _, mask, size in parts),
                 (*[name for name, _ in named], *[name for name, _, _ in parts]),
                 np.concatenate([np.zeros(0, np.int64), *cols]).astype(np.int64),
                 np.cumsum([len(c) for c in cols], dtype=np.int64),
                 np.array([size for _, _, size in parts], np.float64))
    _keep(_GROUPS, id(layout), (layout, got))  # held: the id stays its
    return got


def _rows(w: Weights) -> np.ndarray:
    """(10 + 2P, outcomes) weights: the four ``COUNTED`` sums; the ratios' numerators (cooperative
    moves, checks that held, then per principle); their denominators (moves, checks that applied,
    then per principle); decisions; decisions that served an injection. (The kernel reads the
    count matrix's columns in this order itself.)"""
    m = w.matrix.T
    p = len(w.ids)
    applied, held = m[8:8 + p], m[8 + p:8 + 2 * p]
    rows = np.empty((10 + 2 * p, m.shape[1]))
    rows[:4] = m[_SUM["conflicts"]:_SUM["covert_acts"] + 1]
    rows[4] = m[_SUM["cooperative_moves"]]
    rows[5] = held.sum(axis=0)
    rows[6:6 + p] = held
    rows[6 + p] = m[_SUM["moves"]]
    rows[7 + p] = applied.sum(axis=0)
    rows[8 + p:8 + 2 * p] = applied
    rows[8 + 2 * p] = m[_SUM["decisions"]]
    rows[9 + 2 * p] = m[_SUM["served_injection"]]
    return rows


def _level_matrix(w: Weights) -> np.ndarray:
    """(LEVELS x LEVELS, outcomes): each outcome's conflicts by level pair."""
    n = w.matrix.shape[0]
    pairs = len(Level) ** 2
    at = w.level_outcome < n
    by_level = np.bincount(w.level_pair[at] * n + w.level_outcome[at], minlength=pairs * n)
    return by_level.reshape(pairs, n).astype(np.float64)


#: Groups' views by the id of the layout they were made from, which the entry holds (so the id
#: stays its). Layout parts and row names, by the names they derive from. Each is cleared when
#: it reaches ``_MAX_KEPT`` entries.
_GROUPS: dict[int, tuple[M._Layout, Groups]] = {}
_MAX_KEPT = 32
_PARTS: dict[tuple[object, ...], tuple[tuple[str, ...], tuple[str, ...], bool, tuple[str, ...],
                                           tuple[str, ...]] | None] = {}
#: Plans by what they are made from (``_plan``), with the groups' layout they read.
_PLANS: dict[tuple[object, ...], tuple[M._Layout, Plan]] = {}
#: The same plans by the identity of the arrays they were made from (``_plan``), which the entry holds.
_SEEN: dict[tuple[object, ...], tuple[tuple[object, ...], Plan]] = {}
_MAX_SEEN = 8
#: ``_sources``' answers, by the id of the layout before the join (held) and the names after it.
_JOINED: dict[tuple[int, tuple[str, ...]], tuple[Groups, np.ndarray, list[int]]] = {}
_NAMES: dict[tuple[tuple[str, ...], tuple[str, ...]],
             tuple[list[str], dict[tuple[int, ...], tuple[list[int], list[str]]]]] = {}


def _keep[V](memo: dict[Any, Any], key: Any, value: V, most: int = _MAX_KEPT) -> V:
    """File ``value`` under ``key`` and return it, emptying ``memo`` first if it holds ``most``
    entries (as ``sim.lattice`` keeps its boards: a long session's memos stay small)."""
    if len(memo) >= most:
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


