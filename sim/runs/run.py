"""Running one scenario: the Python API behind ``specbound run``.

>>> from sim import run
>>> result = run("ipd-classic", seed=1, set={"steps": 10})
>>> result.metrics["welfare"]                      # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import scenarios  # noqa: F401  (registers environments and their checks)
from agents.errors import RunFailure
from sim.metrics import clean
from sim.model import SpecModel
from sim.model_template import fresh_model
from sim.scenario import MAX_STEPS, Scenario, check_steps, load_scenario, load_scenario_text
from sim.series import Series

EVENT_COLUMNS = ("step", "kind", "agent", "partner", "winner", "winner_level", "winner_source",
                 "loser", "loser_level", "loser_source", "act", "reason", "detail")


class RunResult:
    """What one run produced.

    The step and event frames are built on first access, not when the run
    ends: building them costs more than a short run itself (a 12-agent round
    robin), and a sweep or a script that reads only ``metrics`` never needs
    them. What they are built from is kept (the series and the event log),
    never the whole model.

    Attributes:
        metrics: final metrics, flat names (see DESIGN.md).
        steps: one row per step (index ``step``), one column per scalar metric.
        events: conflicts and script events, one row each (columns ``EVENT_COLUMNS``).
        agents: id, group, policy, spec and payoff of every agent.
    """

    __slots__ = ("_events", "_rows", "_series", "_steps", "agents", "metrics", "params", "scenario", "seed")

    def __init__(self, scenario: str, seed: int, params: dict[str, Any], metrics: dict[str, float],
                 steps: pd.DataFrame | dict[str, Any] | Callable[[], dict[str, Any]],
                 events: pd.DataFrame | Callable[[], list], agents: list[dict[str, Any]]) -> None:
        self.scenario = scenario
        self.seed = seed
        self.params = params
        self.metrics = metrics
        self.agents = agents
        # Either the frame itself or what builds it (a series dict, or a callable giving it; a
        # callable giving event rows).
        self._steps: pd.DataFrame | None = steps if isinstance(steps, pd.DataFrame) else None
        self._series = None if isinstance(steps, pd.DataFrame) else steps
        self._events: pd.DataFrame | None = events if isinstance(events, pd.DataFrame) else None
        self._rows = None if isinstance(events, pd.DataFrame) else events

    def __repr__(self) -> str:
        return f"RunResult(scenario={self.scenario!r}, seed={self.seed}, metrics={len(self.metrics)})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as built frames: the event log behind a lazy frame stays in this process.
        return (RunResult, (self.scenario, self.seed, self.params, self.metrics, self.steps, self.events,
                            self.agents))

    @property
    def steps(self) -> pd.DataFrame:
        """One row per step (index ``step``, from 1), one column per scalar metric."""
        if self._steps is None:
            series = self._series_dict()
            k = len(next(iter(series.values()))) if series else 0
            self._steps = pd.DataFrame(series, index=pd.RangeIndex(1, k + 1, name="step"))
            self._series = None
        return self._steps

    def step_columns(self) -> tuple[np.ndarray, dict[str, Any]]:
        """The ``steps`` frame's index and columns, without building the frame (sweeps store these)."""
        if self._steps is not None:
            return (self._steps.index.to_numpy(np.int64),
                    {str(c): self._steps[c].to_numpy() for c in self._steps.columns})
        series = self._series_dict()
        k = len(next(iter(series.values()))) if series else 0
        return np.arange(1, k + 1, dtype=np.int64), dict(series)

    def _series_dict(self) -> dict[str, Any]:
        """The series behind a lazy frame (read from the run's series when first asked)."""
        if callable(self._series):
            self._series = self._series()
        return self._series or {}

    def logged_events(self) -> pd.DataFrame | None:
        """The ``events`` frame, or None when the run logged no event (then no frame is built)."""
        if self._events is None:
            rows = self._take_rows()
            if not rows:
                return None
            self._events = events_frame(rows)
        return self._events

    @property
    def events(self) -> pd.DataFrame:
        """Conflicts and script events, one row each, sorted by step, kind and agent."""
        if self._events is None:
            self._events = events_frame(self._take_rows())
        return self._events

    def _take_rows(self) -> list:
        """The event rows behind a lazy frame, handed over once (the log is not kept twice)."""
        rows = self._rows() if self._rows is not None else []
        self._rows = None
        return rows

    def to_json(self) -> dict[str, Any]:
        """The ``run --json`` object."""
        if self._events is None:
            rows = self._take_rows()
            if not rows:
                # Most runs log no event, and an empty frame costs more to build (~40 ms:
                # Arrow-backed string columns) than the rest of this object; ``events``
                # still builds it if asked.
                return self._json([], [])
            self._events = events_frame(rows)
        events = self.events
        conflicts = events[events["kind"] == "conflict"]
        return self._json(
            [{k: _plain(v) for k, v in row.items() if k != "detail"} for row in conflicts.to_dict("records")],
            [{k: _plain(v) for k, v in row.items()}
             for row in events[events["kind"] != "conflict"].to_dict("records")],
        )

    def _json(self, conflicts: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "params": dict(sorted(self.params.items())),
            "metrics": clean(self.metrics),
            "agents": self.agents,
            "conflicts": conflicts,
            "events": events,
        }


def _plain(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and v != v:
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def run_model(
    scenario: str | Path | Scenario,
    *,
    seed: int = 0,
    set: dict[str, Any] | None = None,
    steps: int | None = None,
    progress: bool = False,
    check_llm: bool = True,
) -> SpecModel:
    """Build and run the model, returning it (for inspection: trust network, agents)."""
    if not isinstance(scenario, Scenario):
        sc = load_scenario(scenario, set)
    elif set:
        # From the loaded scenario's own text (it may never have been a file), overrides merged.
        sc = load_scenario_text(scenario.text, overrides={**scenario.overrides, **set},
                                source=scenario.source, strict_specs=True)
    else:
        sc = scenario
    total = sc.steps if steps is None else int(steps)
    if total > MAX_STEPS:  # before the model is built: a typo must not cost a long build either
        check_steps(total, "steps")
    model = fresh_model(sc, seed=seed)  # SpecModel(sc, seed), from a template kept per process
    bar = None
    if progress and sys.stderr.isatty() and total >= 50:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=sc.id, unit="step", leave=False)
    try:
        model.run(total, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if check_llm:
        _check_llm(model)
    return model


#: Share of language-model decisions that may fail (and fall back) before the run counts as failed.
MAX_LLM_FAILURES = 0.5


def _check_llm(model: SpecModel) -> None:
    """A run whose language-model calls mostly failed measured the fallback, not the model."""
    for gs in model.groups:
        u = gs.policy.usage()
        if u is None:
            continue
        errors = int(u.get("errors", 0))
        total = errors + int(u.get("calls", 0)) + int(u.get("cached_decisions", 0))
        if total and errors / total > MAX_LLM_FAILURES:
            raise RunFailure(f"group {gs.name!r}: {errors} of {total} language-model decisions failed "
                             "(server unreachable or refusing?); their fallback acts are not the model's")


def events_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Event rows as the ``events`` frame: columns ``EVENT_COLUMNS``, sorted by step, kind, agent."""
    events = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    if len(events):
        events = events.sort_values(["step", "kind", "agent"], kind="stable", na_position="first")
        events = events.reset_index(drop=True)
    return events


def result_of(model: SpecModel, params: dict[str, Any] | None = None, *, last: bool = False) -> RunResult:
    """Package a finished model as a :class:`RunResult` (its frames are built on first use).

    ``last``: the model runs no more (``run`` releases it next), so its series is read only
    when a frame is first built (most runs' results are read through their metrics or agents).
    """
    sc = model.spec_scenario
    # Each group's names read once, the per-agent values as Python numbers at once (not two
    # numpy scalars an agent).
    names = [(gs.name, gs.policy.name, gs.spec.id) for gs in model.groups]
    agents = [
        {"id": i, "group": names[g][0], "policy": names[g][1], "spec": names[g][2], "payoff": pay, "alive": alive}
        for i, (g, pay, alive) in enumerate(zip(model.group_of.tolist(), model.payoff.tolist(),
                                                model.alive.tolist(), strict=True))
    ]
    if model.evolution is not None:  # what each agent carries at the end, not its group's start
        model.evolution.relabel(agents)
    # The frames read only the series and the event log (what the rows hold is final).
    kept = model.series
    series: dict[str, Any] | Callable[[], dict[str, Any]] = (lambda: _series_of(kept)) if last else _series_of(kept)
    log, table = model.log.snapshot(), model.decisions  # outcome ids already logged never change

    def rows() -> list[dict[str, Any]]:
        return log.script_rows() + log.conflict_rows(table)

    return RunResult(sc.id, model.seed, dict(params if params is not None else sc.overrides),
                     model.final_metrics(), series, rows, agents)


def _series_of(series: Series) -> dict[str, Any]:
    """A run's series as the frame reads it: its columns, lists copied (arrays are only read)."""
    return {name: list(col) if isinstance(col, list) else col for name, col in series.arrays().items()}


def run(
    scenario: str | Path | Scenario,
    *,
    seed: int = 0,
    set: dict[str, Any] | None = None,
    steps: int | None = None,
    progress: bool = False,
    check_llm: bool = True,
) -> RunResult:
    """Run a scenario once and return its final metrics, step series and events.

    Args:
        scenario: a shipped scenario id, a path to a scenario file, or a loaded Scenario.
        seed: the run's seed; the same seed gives the same result, byte for byte.
        set: dotted-path overrides, e.g. ``{"groups.buyers.count": 10}``.
        steps: run this many steps instead of the scenario's own.
        progress: show a progress bar on long runs when stderr is a terminal.
        check_llm: raise :class:`~agents.errors.RunFailure` when most of a group's
            language-model decisions failed (their fallback acts are not the model's).
    """
    model = run_model(scenario, seed=seed, set=set, steps=steps, progress=progress,
                      check_llm=check_llm)
    params = dict(set or {})
    if steps is not None:
        params.setdefault("steps", int(steps))
    result = result_of(model, params, last=True)
    model.release()  # the result keeps none of it but its series
    return result
