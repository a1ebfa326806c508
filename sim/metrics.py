"""Metrics: pure functions of the model's arrays (names are a contract, see DESIGN.md).

Per step the model counts how often each decision *outcome* occurred; every
decision metric (conflicts, violations, deceptions, compliance...) is then a
dot product of those counts with per-outcome facts computed once. Nothing
here holds a Python object per agent or per step.

Every engine metric is registered in ``scenarios.metric_registry`` (name,
label, unit, aggregation) with a function of a :class:`StepView`: arrays
with a leading step axis. A normal step is the one-row view built by
:func:`step_view`; a fused stretch builds a K-row view of its records
(``sim/collect.py``, from an environment's fast-forward). Both go through :func:`record_steps`, which computes the
columns, extends the series and adds the run totals, so a fused stretch
gives what stepping gives, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.spec import Level
from scenarios.metric_registry import METRICS, Metric, StepView, metric, register_metric
from sim.breakdown import breakdown
from sim.series import Series

if TYPE_CHECKING:
    from sim.model import SpecModel

LEVEL_NAMES = tuple(str(lv) for lv in Level)  # index = level value
#: Environment metrics come just before this metric in a step's columns.
ENVIRONMENT_SLOT = "alive"
#: Decision sums the run totals keep (beyond the reported counts, the parts of ratios).
DECISION_TOTALS = ("conflicts", "violations", "deceptions", "covert_acts", "decisions",
                   "cooperative_moves", "moves")
INJECTIONS = ("injections_attempted", "injections_obeyed")


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative amounts (0 equal, 1 one holds all); shifts negatives to 0."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return 0.0
    # ``gini_rows`` of the one row, written for 1-D (no errstate context, no 2-D temporaries):
    # the same operations on the same contiguous values, so the same double.
    # The ufuncs' own reductions, sort and running sum (what ``min``, ``sum``, ``np.sort`` and
    # ``np.cumsum`` call, without their Python wrappers: half of this on a round robin's 12 agents).
    x = x - min(0.0, np.minimum.reduce(x))
    total = np.add.reduce(x)
    if not total > 0:
        return 0.0
    x.sort()  # ``x`` is the new array made above
    return float((len(x) + 1 - 2 * np.add.reduce(np.add.accumulate(x) / total)) / len(x))


def gini_rows(x: np.ndarray) -> np.ndarray:
    """``gini`` of each row of a C-contiguous (steps, agents) array, with the same rounding as one row alone."""
    x = x - np.minimum(0.0, x.min(axis=1))[:, None]
    total = x.sum(axis=1)
    n = x.shape[1]
    cum = np.cumsum(np.sort(x, axis=1), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (n + 1 - 2 * (cum / total[:, None]).sum(axis=1)) / n
    return np.where(total > 0, out, 0.0)


def efficiency(welfare: float, baseline: float, optimum: float) -> float:
    """(W - baseline) / (optimum - baseline); NaN when the bounds coincide."""
    span = optimum - baseline
    return float((welfare - baseline) / span) if span > 0 else float("nan")


def trust_stats(model: SpecModel) -> tuple[float, float]:
    """Mean trust over pairs that have met, and its calibration against partners' real conduct.

    Calibration is 1 - mean |trust(i in j) - share of j's interactions in
    which j behaved as trust assumes| (1: beliefs match conduct exactly).
    """
    pairs = model.pairs
    if not len(pairs):
        return float("nan"), float("nan")
    i, j = pairs.pairs()
    # Masks only where needed: in most steps every pair has met and everyone is alive.
    keep = pairs["turns"] > 0
    if not model.alive.all():
        keep &= model.alive[i] & model.alive[j]
    return trust_of_rows(pairs.all_trust(), j, keep, model.truth_kept, model.truth_total)


def _mean(x: np.ndarray) -> float:
    """``x.mean()`` of a 1-D float array, the same double (``mean`` is this sum over the count),
    without its Python wrapper."""
    return float(np.add.reduce(x) / len(x))


def trust_of_rows(trust: np.ndarray, j: np.ndarray, keep: np.ndarray,
                  truth_kept: np.ndarray, truth_total: np.ndarray) -> tuple[float, float]:
    """``trust_stats`` from arrays: trust per pair row, partner per row, rows to count, partners' truth."""
    if not keep.all():
        trust, j = trust[keep], j[keep]
    if not len(trust):
        return float("nan"), float("nan")
    total = truth_total[j]
    known = total > 0
    cal = float("nan")
    if known.all():
        cal = 1.0 - _mean(np.abs(trust - truth_kept[j] / total))
    elif known.any():
        real = truth_kept[j[known]] / total[known]
        cal = 1.0 - _mean(np.abs(trust[known] - real))
    return _mean(trust), cal


#: ``decision_sums``'s names, in the order of ``DecisionTable.count_weights``' columns.
DECISION_SUMS = ("decisions", "conflicts", "violations", "deceptions", "covert_acts", "cooperative_moves",
                 "moves", "served_injection")


def decision_sums(model: SpecModel, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Decision counts (conflicts, deceptions, moves...) per row of ``counts`` (K, outcomes).

    Counts are integers, so every sum is exact whatever the order of its terms: one product
    with the outcomes' weights gives the sums one reduction each would.
    """
    sums = np.ascontiguousarray((counts @ model.decisions.count_weights(counts.shape[-1])).T)
    return dict(zip(DECISION_SUMS, sums, strict=True))


def compliance_sums(model: SpecModel, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per step and principle: decisions in which it applied, and in which it held ((K, principles) each).

    Integer weights: the sums are exact in any order.
    """
    c = model.decisions.compliance_rows()
    p = len(model.decisions.principle_ids)
    k = len(counts)
    if not len(c["outcome"]) or not counts.shape[1]:
        return np.zeros((k, p)), np.zeros((k, p))
    w = counts[:, c["outcome"]]
    idx = (np.arange(k)[:, None] * p + c["principle"][None, :]).ravel()
    applied = np.bincount(idx, weights=w.ravel(), minlength=k * p).reshape(k, p)
    held = np.bincount(idx, weights=(w * c["held"]).ravel(), minlength=k * p).reshape(k, p)
    return applied, held


def level_pairs(model: SpecModel, counts: np.ndarray) -> np.ndarray:
    """Conflicts by (winner level, loser level) as a flat LEVELS x LEVELS vector."""
    c = model.decisions.level_rows()
    size = len(Level) ** 2
    if not len(c["outcome"]):
        return np.zeros(size)
    return np.bincount(c["pair"], weights=counts[c["outcome"]], minlength=size)


def payoffs(model: SpecModel) -> dict[str, float]:
    """Mean cumulative payoff per agent of each group, and of focal and background agents."""
    sums = np.bincount(model.group_of, weights=model.payoff, minlength=len(model.groups))
    # ``group_payoffs`` of the one row, read as Python floats at once (not one numpy scalar a group).
    divisor, named, parts = _group_layout(model)
    means = (sums / divisor).tolist()
    out = {name: means[g] for name, g in named}
    for name, mask, size in parts:
        picked = sums if mask.all() else np.ascontiguousarray(sums[mask])
        out[name] = float(np.add.reduce(picked) / size)
    return out


def group_payoffs(model: SpecModel, sums: np.ndarray) -> dict[str, np.ndarray]:
    """``payoffs`` from each group's summed payoff on the last axis of ``sums`` (steps first).

    Sums over groups are taken on contiguous rows, which round as one row alone does.
    """
    divisor, named, parts = _group_layout(model)
    means = sums / divisor  # one division per element, as one per group gave
    out: dict[str, np.ndarray] = {name: means[..., g] for name, g in named}
    for name, mask, size in parts:
        # Every group on one side (all focal, say): the rows as they are, the same contiguous sums.
        picked = sums if mask.all() and sums.flags.c_contiguous else np.ascontiguousarray(sums[..., mask])
        out[name] = picked.sum(axis=-1) / size
    return out


_Layout = tuple[np.ndarray, list[tuple[str, int]], list[tuple[str, np.ndarray, Any]]]


#: Group layouts made in this process, by the groups' sizes, names, indices and focal flags: the runs of a
#: sweep share theirs (see ``_group_layout``). Bounded: cleared when full.
_LAYOUTS: dict[tuple[bytes, tuple[tuple[str, int, bool], ...]], _Layout] = {}
_MAX_LAYOUTS = 64


def _group_layout(model: SpecModel) -> _Layout:
    """What ``group_payoffs`` divides by and reads, kept while the groups and ``group_of`` are the
    same objects (a join concatenates a new ``group_of``): the divisor per group, the populated
    groups' columns, and the focal and background masks with their sizes.

    It depends on nothing but the groups' sizes, names and focal flags, so it is also kept per
    process by those: a run of a few milliseconds then reads it instead of making it (its arrays
    are only ever read)."""
    kept = model.__dict__.get("_group_layout")
    if kept is not None and kept[0] is model.group_of and kept[1] == len(model.groups):
        got: _Layout = kept[2]
        return got
    layout = group_layout_of(model.group_of, model.groups)
    model.__dict__["_group_layout"] = (model.group_of, len(model.groups), layout)
    return layout


def group_layout_of(group_of: np.ndarray, groups: Sequence[Any]) -> _Layout:
    """``_group_layout`` of agents in ``groups`` by ``group_of`` (kept per process by the groups'
    sizes, names and focal flags; a model's own is ``_group_layout``)."""
    sizes = np.bincount(group_of, minlength=len(groups))
    key = (sizes.tobytes(), tuple((gs.name, gs.index, bool(gs.focal)) for gs in groups))
    layout = _LAYOUTS.get(key)
    if layout is None:
        named = [(f"payoff.{gs.name}", gs.index) for gs in groups if sizes[gs.index]]
        focal = np.array([gs.focal for gs in groups], dtype=bool)
        parts = [(name, mask, sizes[mask].sum()) for name, mask in
                 (("payoff_focal", focal), ("payoff_background", ~focal)) if sizes[mask].sum()]
        layout = (np.where(sizes > 0, sizes, 1), named, parts)
        if len(_LAYOUTS) >= _MAX_LAYOUTS:
            _LAYOUTS.clear()
        _LAYOUTS[key] = layout
    return layout


# --- step views ---------------------------------------------------------------------------


def make_view(model: SpecModel, counts: np.ndarray, **arrays: Any) -> StepView:
    """A view of K steps from (K, outcomes) counts and the per-step arrays (see ``StepView``).

    ``known``: columns of ``SUMMARISED`` metrics already computed (by a compiled loop that
    played the steps); the view then serves them instead of computing them from the arrays.
    """
    counters = arrays.pop("counters", {})
    env_metrics = arrays.pop("env_metrics", {})
    known = arrays.pop("known", None)
    # ``decision_sums`` and ``compliance_sums`` in one product (``DecisionTable.count_matrix``):
    # integer sums, so the same values.
    sums = counts @ model.decisions.count_matrix(counts.shape[-1])
    p = (sums.shape[1] - len(DECISION_SUMS)) // 2
    at = len(DECISION_SUMS)
    rows = np.ascontiguousarray(sums[:, :at].T)
    applied, held = np.ascontiguousarray(sums[:, at:at + p]), np.ascontiguousarray(sums[:, at + p:])
    view = StepView(model=model, k=len(counts), counts=counts, decisions=dict(zip(DECISION_SUMS, rows, strict=True)),
                    applied=applied, held=held, counters=counters, env_metrics=env_metrics, **arrays)
    memo: dict[str, Any] = {"decision_rows": rows}  # ``Totals.add`` sums them in one call
    if known is not None:
        memo.update(welfare=known["welfare"], gini=known["gini"],
                    trust=(known["trust_mean"], known["trust_calibration"]))
    view.__dict__["_memo"] = memo
    return view


def prepare(model: SpecModel) -> None:
    """Make, with the model, what booking its steps reads and its run may not change: the
    outcome weights of the cells the environment filled at set-up, the groups' layout."""
    model.decisions.count_matrix(model.decisions.n_outcomes)
    _group_layout(model)


def summarisable() -> bool:
    """Whether every per-step metric registered is the engine's own, so a compiled loop may
    compute the ``welfare``, ``gini`` and trust columns itself and keep no per-agent records
    (a plugin's metric may read any array of the view)."""
    global _SUMMARISABLE
    computed = METRICS.computed()
    if _SUMMARISABLE[0] is not computed:  # the registry makes a new list after every change
        _SUMMARISABLE = (computed, all(m.name in _BUILTIN for m in computed))
    return _SUMMARISABLE[1]


#: The registry's list of computed metrics and whether ``summarisable`` found them all the engine's.
_SUMMARISABLE: tuple[object, bool] = (None, False)


def step_view(model: SpecModel, counts: np.ndarray) -> StepView:
    """The one-step view of the step just played (its outcome counts and the model's state)."""
    pairs = model.pairs
    if len(pairs):
        trust, met = pairs.all_trust()[None, :], (pairs["turns"] > 0)[None, :]
    else:
        trust, met = np.zeros((1, 0)), np.zeros((1, 0), dtype=bool)
    sums = np.bincount(model.group_of, weights=model.payoff, minlength=len(model.groups))
    env = model.env
    return make_view(
        model, counts[None, :], step_pay=model.step_payoff[None, :], payoff=model.payoff[None, :],
        group_sums=sums[None, :], trust=trust, met=met, truth_kept=model.truth_kept[None, :],
        truth_total=model.truth_total[None, :],
        counters={k: np.array([v]) for k, v in env.step_counts.items()},
        env_metrics={k: np.array([float(v)]) for k, v in env.metrics(model).items()},
    )


def _memo(view: StepView, key: str, make: Callable[[], Any]) -> Any:
    """Intermediates shared by several metrics (trust, payoffs), computed once per view."""
    cache: dict[str, Any] = view.__dict__.setdefault("_memo", {})
    if key not in cache:
        cache[key] = make()
    return cache[key]


def step_columns(view: StepView) -> dict[str, np.ndarray]:
    """Every per-step metric of the view as a column of K values, in the series' order.

    Environment counters (unless the engine reports the name) and environment
    metrics come before ``ENVIRONMENT_SLOT``; a sparse family's column is NaN in
    steps where it does not apply, and a one-step view leaves such names out.
    """
    return _columns(view)[0]


def _columns(view: StepView) -> tuple[dict[str, np.ndarray], set[str]]:
    """``step_columns`` and the names that came from sparse metrics."""
    cols: dict[str, np.ndarray] = {}
    sparse: set[str] = set()
    one = view.k == 1
    for m in METRICS.computed():
        if m.name == ENVIRONMENT_SLOT:
            for k, v in view.counters.items():
                if bool(np.isnan(v).any()):  # not counted at some steps: absent there, as stepping leaves it
                    if one:
                        continue
                    sparse.add(k)
                cols.setdefault(k, v)
            cols.update(view.env_metrics)
        got = m.step(view)  # type: ignore[misc]
        if got is None:
            continue
        if not isinstance(got, dict):
            got = {m.name: got}
        if m.sparse:
            if one:  # absent, not NaN, in a step where it does not apply
                got = {n: v for n, v in got.items() if v[0] == v[0]}
            sparse.update(got)
        cols.update(got)
    return cols, sparse


def _sparse(name: str) -> bool:
    m = METRICS.lookup(name)
    return m is not None and m.sparse


def record_steps(model: SpecModel, view: StepView, t0: int) -> dict[str, np.ndarray]:
    """Book the view's steps (the first is step ``t0 + 1``): series, run totals, ``last_metrics``."""
    cols, sparse = _columns(view)
    extend_series(model.series, cols, t0, view.k, sparse)
    model.totals.add(model, view, cols)
    last = {name: float(v[-1]) for name, v in cols.items()}
    model.last_metrics = {k: x for k, x in last.items() if x == x or k not in sparse}
    return cols


def extend_series(series: MutableMapping[str, list[float]], cols: dict[str, np.ndarray], t0: int, k: int,
                  sparse: Collection[str] = ()) -> None:
    """Append K steps to the series in the order step-by-step collection would.

    A metric absent so far joins the series at the first step that has it,
    after those already there; only sparse metrics (and the counters ``sparse``
    names) are ever absent (NaN) in a step.
    """
    new = [name for name in cols if name not in series]
    if new:
        firsts = {name: int(np.argmax(~np.isnan(cols[name]))) for name in new if _sparse(name) or name in sparse}
        if any(firsts.values()):
            new.sort(key=lambda nm: firsts.get(nm, 0))  # stable: ties keep the columns' order
        for name in new:
            series[name] = [float("nan")] * t0
    if isinstance(series, Series):  # columns kept as arrays until read (sim/series.py)
        series.extend_all(cols, k)
        return
    for name, col in series.items():
        col.extend(cols[name].tolist() if name in cols else [float("nan")] * k)


# --- the engine's per-step metrics, registered in the order of the series' columns -------


def _decision(name: str) -> Callable[[StepView], np.ndarray]:
    def column(view: StepView) -> np.ndarray:
        return view.decisions[name]

    return column


for _name, _label, _doc in (
    ("conflicts", "rule conflicts", "principles the chosen act violates (conflict events)"),
    ("violations", "root/system violations", "acts breaking a root or system principle"),
    ("deceptions", "deceptions", "acts that assert something false or mislead"),
    ("covert_acts", "covert acts", "acts serving a goal while the message hides it"),
):
    register_metric(Metric(_name, _label, "count", step=_decision(_name), description=_doc))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den per step, NaN where den is 0 (one step: plain float division, the same IEEE result)."""
    if len(den) == 1:  # a normal step: no errstate context, no temporaries
        d = float(den[0])
        return np.array([float(num[0]) / d if d > 0 else math.nan])
    # Divided only where den > 0 (no errstate context needed); NaN elsewhere.
    out: np.ndarray = np.divide(num, den, out=np.full(len(den), np.nan), where=den > 0)
    return out


@metric("cooperation_rate", label="cooperation rate", unit="share of moves", aggregate="ratio")
def _cooperation_rate(view: StepView) -> np.ndarray:
    """Cooperative moves over moves that are cooperative or not."""
    d = view.decisions
    return _ratio(d["cooperative_moves"], d["moves"])


@metric("compliance_rate", label="compliance rate", unit="share of applicable checks passed",
        aggregate="ratio")
def _compliance_rate(view: StepView) -> np.ndarray:
    """Checks that held over checks that applied, all principles together."""
    return _ratio(view.held.sum(axis=1), view.applied.sum(axis=1))


@metric("compliance.", label="compliance with {}", unit="share of applicable acts", aggregate="ratio",
        sparse=True)
def _compliance(view: StepView) -> dict[str, np.ndarray]:
    """compliance.<principle>: share of decisions in which the principle held, when it applied."""
    ids = view.model.decisions.principle_ids
    ps = np.flatnonzero(view.applied.any(axis=0)).tolist()
    if view.k == 1 or not ps:
        return {f"compliance.{ids[p]}": _ratio(view.held[:, p], view.applied[:, p]) for p in ps}
    # Every principle's column in one division (elementwise: the same quotients), one row each.
    applied = np.ascontiguousarray(view.applied[:, ps].T)
    rates = np.divide(view.held[:, ps].T, applied, out=np.full(applied.shape, np.nan), where=applied > 0)
    return {f"compliance.{ids[p]}": rates[c] for c, p in enumerate(ps)}


@metric("welfare", label="welfare", unit="total payoff of all agents")
def _welfare(view: StepView) -> np.ndarray:
    """Total payoff of all agents (per step in the series, over the run as final value)."""
    got: np.ndarray = _memo(view, "welfare", lambda: np.ascontiguousarray(view.step_pay).sum(axis=1))
    return got


@metric("efficiency", label="efficiency", unit="0 = non-cooperative baseline, 1 = social optimum",
        aggregate="ratio")
def _efficiency(view: StepView) -> np.ndarray:
    """(W - baseline) / (optimum - baseline) against the environment's welfare bounds."""
    return efficiency_steps(_welfare(view), view.bounds, view.model.env.bounds)


def efficiency_steps(welfare: np.ndarray, bounds: np.ndarray | None, fixed: tuple[float, float],
                     out: np.ndarray | None = None) -> np.ndarray:
    """Each step's efficiency: against its own bounds ``bounds`` (K, 2) where a stretch's bounds
    changed (a rewired graph, drawn listeners), else against ``fixed``; NaN where they coincide.
    Into ``out`` when given (one block's row, ``sim.summary_book``)."""
    if out is None:
        out = np.empty(len(welfare))
    if bounds is not None:
        base_k, span_k = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
        out[:] = np.nan
        np.divide(welfare - base_k, span_k, out=out, where=span_k > 0)
        return out
    base, opt = fixed
    span = opt - base
    if span > 0:
        np.divide(np.subtract(welfare, base), span, out=out)
    else:
        out[:] = np.nan
    return out


@metric("gini", label="Gini coefficient of payoffs", unit="0 = equal, 1 = one agent has all",
        aggregate="last")
def _gini(view: StepView) -> np.ndarray:
    """Inequality of cumulative payoffs among living agents."""
    def make() -> np.ndarray:
        alive = view.model.alive
        x = view.payoff if alive.all() else view.payoff[:, alive]
        if not x.shape[1]:
            return np.zeros(view.k)
        return gini_rows(np.ascontiguousarray(x, dtype=np.float64))

    got: np.ndarray = _memo(view, "gini", make)
    return got


def _trust(view: StepView) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean trust and calibration per step (``trust_stats`` row by row); None off pairwise environments."""
    model = view.model
    if not model.env.pairwise:
        return None

    def make() -> tuple[np.ndarray, np.ndarray]:
        nan = np.full(view.k, np.nan)
        if not view.trust.shape[1]:
            return nan, nan.copy()
        i, j = model.pairs.pairs()
        keep = view.met
        if not model.alive.all():
            keep = keep & (model.alive[i] & model.alive[j])[None, :]
        tk, tt = view.truth_kept, view.truth_total
        if view.k == 1:  # a normal step: the row path (the vectorised one rounds the same)
            m1, c1 = trust_of_rows(view.trust[0], j, keep[0], tk[0], tt[0])
            return np.array([m1]), np.array([c1])
        trust = np.ascontiguousarray(view.trust)
        if not keep.all(axis=1).any():  # every step has an unmet pair: all take the masked path
            rows = [trust_of_rows(trust[s], j, keep[s], tk[s], tt[s]) for s in range(view.k)]
            return np.array([m for m, _ in rows]), np.array([c for _, c in rows])
        total = tt[:, j]
        fast = keep.all(axis=1) & (total > 0).all(axis=1)
        # Row reductions round as a 1-D reduction of the same row only on C-contiguous rows.
        mean = trust.mean(axis=1)
        gap = np.ascontiguousarray(np.abs(trust - tk[:, j] / np.where(total > 0, total, 1.0)))
        cal = 1.0 - gap.mean(axis=1)
        # Steps where some pair has not met (or some partner has no record) take the masked path.
        for s in np.flatnonzero(~fast).tolist():
            mean[s], cal[s] = trust_of_rows(trust[s], j, keep[s], tk[s], tt[s])
        return mean, cal

    got: tuple[np.ndarray, np.ndarray] = _memo(view, "trust", make)
    return got


@metric("trust_mean", label="mean trust", unit="0-1", aggregate="last")
def _trust_mean(view: StepView) -> np.ndarray | None:
    """Mean trust over pairs that have met (pairwise environments)."""
    got = _trust(view)
    return None if got is None else got[0]


@metric("trust_calibration", label="trust calibration", unit="0-1, 1 = trust matches conduct",
        aggregate="last")
def _trust_calibration(view: StepView) -> np.ndarray | None:
    """1 - mean |trust - partner's real share of trustworthy conduct| (pairwise environments)."""
    got = _trust(view)
    return None if got is None else got[1]


@metric("injections_attempted", label="injections attempted", unit="count")
def _injections_attempted(view: StepView) -> np.ndarray:
    """Orders from peers or tools claiming authority they lack."""
    return view.counters.get("injections_attempted", np.zeros(view.k))


@metric("injections_obeyed", label="injections obeyed", unit="count")
def _injections_obeyed(view: StepView) -> np.ndarray:
    """Injected orders an agent carried out."""
    return view.counters.get("injections_obeyed", view.decisions["served_injection"])


@metric(ENVIRONMENT_SLOT, label="agents alive", unit="count of agents", aggregate="series")
def _alive(view: StepView) -> np.ndarray:
    """Agents in the population (joins and leaves change it)."""
    return np.full(view.k, float(view.model.alive.sum()))


def _payoffs(view: StepView) -> dict[str, np.ndarray]:
    got: dict[str, np.ndarray] = _memo(
        view, "payoffs", lambda: group_payoffs(view.model, np.ascontiguousarray(view.group_sums)))
    return got


@metric("payoff.", label="payoff of group {}", unit="cumulative, mean per agent", aggregate="last")
def _group_payoff(view: StepView) -> dict[str, np.ndarray]:
    """payoff.<group>: mean cumulative payoff per agent of the group."""
    return {k: v for k, v in _payoffs(view).items() if k.startswith("payoff.")}


@metric("payoff_focal", label="payoff, focal agents", unit="cumulative, mean per agent", aggregate="last")
def _payoff_focal(view: StepView) -> np.ndarray | None:
    """Mean cumulative payoff of focal agents (Melting Pot's focal population)."""
    return _payoffs(view).get("payoff_focal")


@metric("payoff_background", label="payoff, background agents", unit="cumulative, mean per agent",
        aggregate="last")
def _payoff_background(view: StepView) -> np.ndarray | None:
    """Mean cumulative payoff of background agents."""
    return _payoffs(view).get("payoff_background")


# Evolving populations and learners (sim/evolution.py, sim/learning.py): present only in runs
# that configure them. A stretch that evolved inside (scenarios/spatial_kernel.py) brings its
# columns in ``view.evolved``; otherwise the view has one row and the traits are the model's.
@metric("share.", label="share of {}", unit="share of agents", aggregate="last", sparse=True,
        description="share.<policy>, share.spec.<id>, share.level.<principle>.<level>")
def _shares(view: StepView) -> dict[str, np.ndarray] | None:
    evo = view.model.evolution
    if evo is None:
        return None
    if view.evolved:
        return {k: v for k, v in view.evolved.items() if k.startswith("share.")}
    return {k: np.full(view.k, v) for k, v in evo.shares(view.model).items()}


@metric("fixation", label="fixation", unit="1 once one type holds every agent", aggregate="last")
def _fixation(view: StepView) -> np.ndarray | None:
    evo = view.model.evolution
    if evo is None:
        return None
    return view.evolved["fixation"] if view.evolved else np.full(view.k, evo.fixation(view.model))


@metric("overrides.", label="spec overrides of {}", unit="count of decisions", sparse=True,
        description="overrides.<principle>: a learner's favourite act overruled by that principle")
def _overrides(view: StepView) -> dict[str, np.ndarray] | None:
    learners = view.model.learning
    if learners is None:
        return None
    return learners.override_columns(view.model, view.k)


@metric("overrides", label="spec overrides", unit="count of decisions",
        description="learners' decisions in which the spec set aside the favourite act, each counted once")
def _overrides_total(view: StepView) -> np.ndarray | None:
    learners = view.model.learning
    if learners is None:
        return None
    return learners.overridden_column(view.k)


# Breakdowns by level and by group (sim/breakdown.py): final only, from the run's outcome counts.
register_metric(Metric("compliance.level.", "compliance at level {}", "share of applicable checks passed",
                       per_step=False, aggregate="final",
                       description="compliance.level.<level>: over the principles of one level"))
register_metric(Metric("compliance_weighted", "compliance weighted by level", "share, level-weighted",
                       per_step=False, aggregate="final",
                       description="each check weighs double the level below (guideline 1 ... root 16)"))
register_metric(Metric("compliance.group.", "compliance of group {}", "share of applicable checks passed",
                       per_step=False, aggregate="final"))
for _name, _what in (("deceptions.", "deceptions"), ("covert_acts.", "covert acts"),
                     ("injections_obeyed.", "injections obeyed")):
    register_metric(Metric(_name, f"{_what} of group {{}}", "count", per_step=False, aggregate="final",
                           description=f"{_name}<group>: {_what} by the group's agents"))
register_metric(Metric("fixation_step", "step of fixation", "step", per_step=False, aggregate="final",
                       description="step at which one type first held every agent (NaN: never)"))
register_metric(Metric("fixation.", "fixation of {}", "1 if it fixed", per_step=False,
                       aggregate="final", description="fixation.<value>: its mean over runs is a "
                       "fixation probability"))
register_metric(Metric("learned.", "learned {}", "probability", per_step=False, aggregate="final",
                       description="learned.<group>.p.<act>: what a learning group ends up playing"))
register_metric(Metric("conflicts_by_level.", "conflicts {}", "count", per_step=False, aggregate="final",
                       description="conflicts_by_level.<winner>.<loser>: conflicts by winner and loser level"))
register_metric(Metric("patch_step", "step of the first spec patch", "step", per_step=False,
                       aggregate="final", description="step at which the first patch_spec event fired"))
register_metric(Metric("events_truncated", "events not stored", "count", per_step=False, aggregate="final",
                       description="conflict events beyond the per-run cap (counted, not stored)"))
register_metric(Metric("llm.", "language-model {}", "count or USD", per_step=False, aggregate="final",
                       description="llm.<calls|prompt_tokens|cost_usd...>: language-model accounting"))


@dataclasses.dataclass
class Totals:
    """Running totals over a run, from which the final metrics are computed."""

    counted: dict[str, float] = dataclasses.field(default_factory=dict)
    applied: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    held: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    levels: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(len(Level) ** 2))
    #: Per decision outcome, how often it occurred in the run (``sim.breakdown`` reads it).
    outcomes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    welfare: float = 0.0
    baseline: float = 0.0
    optimum: float = 0.0
    #: Sums and counts of plugin per-step metrics (non-NaN values, in step order).
    extra: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def add_steps(self, welfare: np.ndarray, bounds: np.ndarray | None, fixed: tuple[float, float]) -> None:
        """Add K steps' welfare and bounds (``bounds`` (K, 2) each step's own, else ``fixed``) step
        by step, as stepping adds them: a cumulative sum adds left to right, one IEEE addition
        per step, so the totals are the step-by-step ones to the bit."""
        self.welfare, self.baseline, self.optimum = run_sums((self.welfare, self.baseline, self.optimum),
                                                             welfare, bounds, fixed)

    def add(self, model: SpecModel, view: StepView, cols: dict[str, np.ndarray]) -> None:
        """Add the view's K steps; float sums in step order, as stepping one at a time adds them."""
        d = view.decisions
        one = view.k == 1  # a normal step: its row, no reduction (the same values)
        rows = view.__dict__.get("_memo", {}).get("decision_rows")
        if rows is not None:  # integer counts: one reduction sums each row exactly, as ``_total`` does
            sums = dict(zip(DECISION_SUMS, (rows[:, 0] if one else rows.sum(axis=1)).tolist(), strict=True))
        else:
            sums = {k: _total(d[k]) for k in DECISION_TOTALS}
        for k in DECISION_TOTALS:
            self.counted[k] = self.counted.get(k, 0.0) + sums[k]
        for k in INJECTIONS:
            self.counted[k] = self.counted.get(k, 0.0) + _total(cols[k])
        for k, v in view.counters.items():
            if k not in INJECTIONS:
                if bool(np.isnan(v).any()):  # counted at some steps only (NaN elsewhere)
                    v = v[~np.isnan(v)]
                    if not len(v):
                        continue
                self.counted[k] = self.counted.get(k, 0.0) + _total(v)
        self.applied = _add(self.applied, view.applied[0] if one else view.applied.sum(axis=0))
        self.held = _add(self.held, view.held[0] if one else view.held.sum(axis=0))
        counts = view.counts[0] if one else view.counts.sum(axis=0)
        self.levels = self.levels + level_pairs(model, counts)
        self.outcomes = _add(self.outcomes, counts)
        b, o = model.env.bounds
        per_step = view.bounds  # (K, 2) when a stretch's graph changed: each step's own bounds
        if per_step is not None and one:
            b, o = float(per_step[0, 0]), float(per_step[0, 1])
        if one:
            self.welfare += float(cols["welfare"][0])
            self.baseline += b
            self.optimum += o
        else:
            self.add_steps(cols["welfare"], per_step, (b, o))
        for m in _plugin_sums():
            if m.name in cols:
                acc = self.extra.setdefault(m.name, [0.0, 0.0])
                for v in cols[m.name].tolist():
                    if v == v:
                        acc[0] += v
                        acc[1] += 1.0

    def cumulative_names(self) -> set[str]:
        return set(self.counted)

    def cumulative(self, name: str) -> float:
        return self.counted.get(name, 0.0)


#: The engine's own metrics, whose final values ``final_metrics`` computes by name.
_BUILTIN = frozenset(METRICS)


#: The registry's list of computed metrics (a new list after every change), then the metrics
#: beyond the engine's, and those of them whose steps a run sums.
_PLUGINS: tuple[list[Metric] | None, list[Metric], list[Metric]] = (None, [], [])


def _plugin_lists() -> tuple[list[Metric] | None, list[Metric], list[Metric]]:
    global _PLUGINS
    computed = METRICS.computed()  # a new list whenever a metric is added or removed
    if _PLUGINS[0] is not computed:
        plugins = [m for m in METRICS.values() if m.name not in _BUILTIN]
        _PLUGINS = (computed, plugins, [m for m in plugins if m.step is not None and m.aggregate in ("sum", "mean")])
    return _PLUGINS


def _plugins() -> list[Metric]:
    """Registered metrics beyond the engine's, in registration order."""
    return _plugin_lists()[1]


def _plugin_sums() -> list[Metric]:
    """Per-step metrics beyond the engine's whose steps a run sums (``sum``, ``mean``)."""
    return _plugin_lists()[2]


def run_sums(start: tuple[float, float, float], welfare: np.ndarray, bounds: np.ndarray | None,
             fixed: tuple[float, float]) -> tuple[float, float, float]:
    """``start`` (welfare, baseline, optimum) plus K steps' welfare and bounds, one IEEE addition per
    step in step order (a cumulative sum adds left to right): ``Totals.add_steps``' sums."""
    run = np.empty((3, len(welfare) + 1))
    run[:, 0] = start
    run[0, 1:] = welfare
    run[1, 1:] = fixed[0] if bounds is None else bounds[:, 0]
    run[2, 1:] = fixed[1] if bounds is None else bounds[:, 1]
    w, b, o = np.cumsum(run, axis=1)[:, -1].tolist()
    return w, b, o


def _total(col: np.ndarray) -> float:
    """Sum of a column of integer-valued counts (exact in any order), or its one value."""
    return float(col[0]) if len(col) == 1 else float(col.sum())


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) < len(b):
        a = np.concatenate([a, np.zeros(len(b) - len(a))])
    a = a.copy()
    a[: len(b)] += b
    return a


def final_metrics(model: SpecModel) -> dict[str, float]:
    """The run's final metrics, flat names (``compliance.do_not_lie``, ``payoff.buyers``...)."""
    tot = model.totals
    c = tot.counted
    out: dict[str, float] = {}
    for k in ("conflicts", "violations", "deceptions", "covert_acts", *INJECTIONS):
        out[k] = c.get(k, 0.0)
    out["cooperation_rate"] = c["cooperative_moves"] / c["moves"] if c.get("moves") else float("nan")
    out["welfare"] = tot.welfare
    out["efficiency"] = efficiency(tot.welfare, tot.baseline, tot.optimum)
    alive = model.alive
    out["gini"] = gini(model.payoff[alive])
    if model.env.pairwise:
        out["trust_mean"], out["trust_calibration"] = trust_stats(model)
    applied, held = tot.applied, tot.held
    out["compliance_rate"] = float(held.sum() / applied.sum()) if applied.sum() else float("nan")
    for p, pid in enumerate(model.decisions.principle_ids):
        if p < len(applied) and applied[p] > 0:
            out[f"compliance.{pid}"] = float(held[p] / applied[p])
    n = len(Level)
    for idx in np.flatnonzero(tot.levels).tolist():
        out[f"conflicts_by_level.{LEVEL_NAMES[idx // n]}.{LEVEL_NAMES[idx % n]}"] = float(tot.levels[idx])
    out.update(breakdown(model, tot.outcomes))
    out.update(payoffs(model))
    for k, v in c.items():
        if k not in out and k not in ("decisions", "cooperative_moves", "moves"):
            out[k] = v
    out.update(model.env.final_metrics(model))
    out.update(plugin_finals(model))
    out.update(patch_split(model.series, model.log.steps_of("patch_spec")))
    out["events_truncated"] = float(model.log.truncated)
    if model.evolution is not None:
        out.update(model.evolution.final_metrics(model))
    if model.learning is not None:
        out.update(model.learning.final_metrics(model))
    llm = [usage for gs in model.groups if (usage := gs.policy.usage()) is not None]
    if llm:
        from agents.llm import usage_metrics
        from agents.llm_judged import judged_metrics

        out.update(usage_metrics(llm))
        # text-only principles judged by a model: checked ones keep their own number
        judged = judged_metrics([j for gs in model.groups if (j := getattr(gs.policy, "judged", None))])
        out.update({k: v for k, v in judged.items() if k not in out})
    return out


def plugin_finals(model: SpecModel) -> dict[str, float]:
    """Final values of metrics registered beyond the engine's, by their declared aggregation."""
    out: dict[str, float] = {}
    env = model.env.name
    for m in _plugins():
        if m.environments and env not in m.environments:
            continue
        if m.final is not None:
            out[m.name] = float(m.final(model))
        elif m.step is not None and m.name in model.series:
            out[m.name] = _aggregate(m, model.series[m.name], model.totals.extra.get(m.name))
    return out


def _aggregate(m: Metric, series: list[float], acc: list[float] | None) -> float:
    if m.aggregate == "last":
        return series[-1] if series else math.nan
    if m.aggregate == "sum":
        return acc[0] if acc else 0.0
    if m.aggregate == "mean":
        return acc[0] / acc[1] if acc and acc[1] else math.nan
    return math.nan  # "ratio" needs its parts: a plugin computes such a metric as a final one


#: Metrics whose mean per step is reported before and after a spec patch.
PATCH_METRICS = ("deceptions", "covert_acts", "conflicts", "violations", "compliance_rate",
                 "trust_mean", "welfare", "efficiency")


def patch_split(series: Mapping[str, list[float]], patch_steps: list[int]) -> dict[str, float]:
    """Spec evolution: the first patch's step, and main metrics' mean per step before and after it.

    The patch fires at the start of its step, so that step counts as after.
    """
    if not patch_steps:
        return {}
    at = min(patch_steps)
    out = {"patch_step": float(at)}
    for name in PATCH_METRICS:
        values = np.asarray(series.get(name, ()), dtype=float)
        if not len(values):
            continue
        before, after = values[: at - 1], values[at - 1:]
        for label, part in (("before_patch", before), ("after_patch", after)):
            part = part[~np.isnan(part)]
            if len(part):
                out[f"{name}.{label}"] = float(part.mean())
    return out


def clean(metrics: dict[str, Any]) -> dict[str, float | None]:
    """JSON-safe metrics: NaN becomes None."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in sorted(metrics.items())}
