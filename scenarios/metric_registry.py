"""The metric registry: one definition per metric, read by everything that names one.

A metric's name, label, unit, whether it is in the time series, how a run's
final value comes from its steps and which environments supply it are
registered once here. The collection code, the command line's summary and
``specbound list metrics``, plot labels and the documentation all read this
table, so adding a metric is one registration.

Per-step metrics that the engine (or a plugin) computes are functions of a
:class:`StepView`: arrays with a leading step axis, one row per step. A
normal step is the one-row case and a fused stretch of K steps the K-row
case of the same function, so the two paths cannot drift apart. Metrics
that an environment supplies (``Environment.supplies``) are computed by the
environment (``metrics``, ``final_metrics``, ``model.count``); the registry
holds their description and says which environments supply them.

This module sits in ``scenarios`` because environments declare their
metrics here; the engine's own registrations live in ``sim/metrics.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from agents.errors import InterfaceError, SpecboundError
from agents.registry import origin

if TYPE_CHECKING:
    from sim.model import SpecModel

#: How a run's final value comes from its steps:
#: ``sum`` total over the steps; ``last`` the value at the end of the run;
#: ``mean`` mean over the steps that have a value; ``ratio`` a ratio of run totals
#: (e.g. cooperative moves over moves); ``final`` computed at the end only; ``series`` in the
#: time series only, no final value.
Aggregate = Literal["sum", "last", "mean", "ratio", "final", "series"]
AGGREGATES: tuple[str, ...] = ("sum", "last", "mean", "ratio", "final", "series")


@dataclasses.dataclass(frozen=True)
class StepView:
    """What per-step metrics read, for K steps at once (leading axis: step).

    Attributes:
        model: the model (constant parts: groups, principle ids, environment, alive agents).
        k: number of steps in the view (1 for a normal step).
        counts: (K, outcomes) how often each decision outcome occurred.
        decisions: decision sums per step (``conflicts``, ``moves``...), each shape (K,).
        applied, held: (K, principles) decisions in which each principle applied, and held.
        step_pay: (K, agents) payoff earned in the step.
        payoff: (K, agents) cumulative payoff after the step.
        group_sums: (K, groups) cumulative payoff per group, summed in agent order.
        trust: (K, pair rows) trust after the step; ``met`` (K, pair rows) the pair has played.
        truth_kept, truth_total: (K, agents) partners' real conduct so far.
        counters: environment counters of the step (``model.count``), each shape (K,).
        env_metrics: the environment's per-step metrics, each shape (K,).
        evolved: an evolving population's ``share.*`` and ``fixation`` columns, each shape (K,),
            when a fast-forward recorded them step by step (empty: read the model's traits).
        bounds: (K, 2) each step's welfare bounds (baseline, optimum) when a stretch's graph
            changed inside it; None: the environment's ``bounds`` hold for every step.
    """

    model: SpecModel
    k: int
    counts: np.ndarray
    decisions: Mapping[str, np.ndarray]
    applied: np.ndarray
    held: np.ndarray
    step_pay: np.ndarray
    payoff: np.ndarray
    group_sums: np.ndarray
    trust: np.ndarray
    met: np.ndarray
    truth_kept: np.ndarray
    truth_total: np.ndarray
    counters: Mapping[str, np.ndarray]
    env_metrics: Mapping[str, np.ndarray]
    evolved: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    bounds: np.ndarray | None = None


#: A per-step metric: one column of K values, or (for a family) columns by full name.
StepFn = Callable[[StepView], "np.ndarray | dict[str, np.ndarray]"]
#: A final-only metric: its value from the finished model.
FinalFn = Callable[["SpecModel"], float]


@dataclasses.dataclass(frozen=True)
class Metric:
    """One registered metric.

    Attributes:
        name: the metric's name; for a family, its prefix ending in a dot (``compliance.``).
        label: axis label without unit (``mean trust``).
        unit: unit of the run's final value (``0-1``, ``count``...).
        per_step: in the time series (False: a final value only).
        aggregate: how a run's final value comes from its steps (see ``AGGREGATES``).
        environments: the environments that supply it; empty: the engine, every environment.
        step: computes the per-step values (engine and plugin metrics); None when an
            environment supplies them or the metric is final only.
        final: computes the final value (final-only plugin metrics); None otherwise.
        description: one line for ``specbound list metrics`` and the docs.
        sparse: a per-step value may be absent (NaN) in a step where it does not apply.
    """

    name: str
    label: str
    unit: str
    per_step: bool = True
    aggregate: Aggregate = "sum"
    environments: tuple[str, ...] = ()
    step: StepFn | None = None
    final: FinalFn | None = None
    description: str = ""
    sparse: bool = False

    def __post_init__(self) -> None:
        where = f"metric {self.name!r}"
        if not self.name or not isinstance(self.name, str):
            raise SpecboundError(f"{where}: a metric needs a non-empty name")
        if self.aggregate not in AGGREGATES:
            raise SpecboundError(f"{where}: aggregate {self.aggregate!r}; allowed: {', '.join(AGGREGATES)}")
        if self.step is not None and not self.per_step:
            raise SpecboundError(f"{where}: a step function needs per_step=True")
        if self.final is not None and (self.per_step or self.aggregate != "final"):
            raise SpecboundError(f"{where}: a final function needs per_step=False and aggregate='final'")
        if not isinstance(self.environments, tuple):
            raise SpecboundError(f"{where}: environments must be a tuple of names")

    @property
    def family(self) -> bool:
        """The name is a prefix (``compliance.``): one metric per principle, group or level pair."""
        return self.name.endswith(".")

    @property
    def supplied_by_environment(self) -> bool:
        return bool(self.environments) and self.step is None and self.final is None

    def matches(self, name: str) -> bool:
        return name.startswith(self.name) if self.family else name == self.name


class MetricRegistry(Mapping[str, Metric]):
    """Registered metrics in registration order (the order of the time series' columns)."""

    def __init__(self) -> None:
        self._items: dict[str, Metric] = {}
        self._computed: list[Metric] | None = None  # asked for every step: kept until a change
        self._found: dict[str, Metric | None] = {}  # lookup's answers, asked per column per run

    def __getitem__(self, name: str) -> Metric:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, m: Metric) -> Metric:
        """Register ``m``; an environment metric another environment supplies too is merged."""
        old = self._items.get(m.name)
        if old is not None:
            if old.supplied_by_environment and m.supplied_by_environment:
                m = dataclasses.replace(old, environments=tuple(dict.fromkeys(old.environments + m.environments)))
            elif _origin(old) != _origin(m):  # the same definition again (a module reloaded) is fine
                raise InterfaceError(f"metric {m.name!r} from {_origin(m)} clashes with the one from {_origin(old)}")
        self._items[m.name] = m
        self._computed = None
        self._found.clear()
        return m

    def remove(self, name: str) -> None:
        self._items.pop(name, None)
        self._computed = None
        self._found.clear()

    def lookup(self, name: str) -> Metric | None:
        """The metric that defines ``name`` (exact name first, then the longest family prefix)."""
        if name in self._found:
            return self._found[name]
        found = self._items.get(name)
        if found is None:
            fams = [m for m in self._items.values() if m.family and name.startswith(m.name)]
            found = max(fams, key=lambda m: len(m.name)) if fams else None
        self._found[name] = found
        return found

    def computed(self) -> list[Metric]:
        """Per-step metrics with a step function, in registration order."""
        if self._computed is None:
            self._computed = [m for m in self._items.values() if m.step is not None]
        return self._computed

    def of_environment(self, env: str) -> list[Metric]:
        return [m for m in self._items.values() if env in m.environments]


METRICS = MetricRegistry()


def register_metric(m: Metric) -> Metric:
    """Register a metric (``Metric`` built by hand: environment metrics, families)."""
    return METRICS.add(m)


def metric(name: str, *, label: str, unit: str, aggregate: Aggregate = "sum", per_step: bool = True,
           environments: tuple[str, ...] = (), description: str = "",
           sparse: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as metric ``name``.

    With ``per_step=True`` the function takes a :class:`StepView` and returns one
    value per step (shape (K,)); with ``per_step=False`` it takes the finished
    model and returns the final value (``aggregate`` is then ``final``).
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if per_step:
            m = Metric(name, label, unit, True, aggregate, environments, step=fn,
                       description=description or _first_line(fn.__doc__), sparse=sparse)
        else:
            m = Metric(name, label, unit, False, "final", environments, final=fn,
                       description=description or _first_line(fn.__doc__))
        METRICS.add(m)
        return fn

    return register


def _origin(m: Metric) -> str:
    fn = m.step or m.final
    return origin(fn) if fn is not None else "an environment"


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""
