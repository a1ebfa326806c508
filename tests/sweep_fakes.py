"""Stand-in scenario and run tasks for the sweep tests.

They follow the contracts of ``sim.runs.batch.Task`` and ``sim.runs.sweep.ScenarioLike``
without the engine, so executors, store, resume and CLI can be tested on
their own: a result depends only on (params, seed), a chosen parameter value
makes a run raise, an optional delay and counter file let a test kill a sweep
part-way and prove that no stored run is rerun.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from agents.errors import ScenarioError

#: Parameters the fake scenario accepts, with their types.
PATHS: dict[str, type] = {"x": int, "alpha": float, "label": str, "steps": int}
COUNTER_ENV = "SPECBOUND_FAKE_COUNTER"


@dataclass(frozen=True)
class FakeScenario:
    """A loaded-scenario stand-in: id, texts and an optional [sweep] table."""

    id: str = "fake"
    text: str = '[scenario]\nid = "fake"\nsteps = 5\n'
    spec_texts: dict[str, str] = field(default_factory=lambda: {"plain": '[spec]\nid = "plain"\n'})
    sweep: dict[str, Any] | None = None


@dataclass(frozen=True)
class FakeResult:
    """What a run returns: final metrics, a step-indexed frame, an events frame."""

    metrics: dict[str, float]
    steps: pd.DataFrame
    events: pd.DataFrame


@dataclass(frozen=True)
class FakeTask:
    """A deterministic run of (params, seed); runs with x == ``fail_x`` raise."""

    fail_x: int | None = None
    delay: float = 0.0
    die_x: int | None = None  # the worker process exits, as if killed

    def check(self, scenario: FakeScenario, params: Mapping[str, Any]) -> Mapping[str, str]:
        """Reject unknown paths and wrongly typed values, as load_scenario does."""
        for path, value in params.items():
            if path not in PATHS:
                raise ScenarioError(f"fake: unknown path {path!r}; allowed: {', '.join(PATHS)}")
            kind = PATHS[path]
            ok = (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                if kind is float
                else isinstance(value, kind) and not isinstance(value, bool)
            )
            if not ok:
                raise ScenarioError(f"fake: {path} = {value!r} must be {kind.__name__}")
        return {"extra": '[spec]\nid = "extra"\n'} if "label" in params else {}

    def __call__(
        self,
        scenario_text: str,
        spec_texts: Mapping[str, str],
        params: Mapping[str, Any],
        seed: int,
    ) -> FakeResult:
        """Draw a small time series from ``seed``; shift it by the parameters."""
        counter = os.environ.get(COUNTER_ENV)
        if counter:
            with open(counter, "a") as fh:
                fh.write(json.dumps({"params": dict(params), "seed": seed}, sort_keys=True) + "\n")
        if self.delay:
            time.sleep(self.delay)
        x = params.get("x", 0)
        if self.die_x is not None and x == self.die_x:
            os._exit(3)
        if self.fail_x is not None and x == self.fail_x:
            raise ValueError(f"fake failure for x={x}")
        rng = np.random.default_rng(seed)
        n = int(params.get("steps", 5))
        noise = rng.normal(size=n)
        welfare = np.cumsum(noise) + x * params.get("alpha", 1.0)
        steps = pd.DataFrame(
            {"welfare": welfare, "trust_mean": rng.random(n)}, index=pd.RangeIndex(n, name="step")
        )
        events = pd.DataFrame(
            {
                "step": [0, n - 1],
                "kind": ["conflict", "shock"],
                "agent": [1, None],
                "partner": [2, None],
                "winner": ["do_not_lie", None],
                "reason": ["root outranks user", "scripted"],
            }
        )
        metrics = {
            "welfare": float(welfare[-1]),
            "trust_mean": float(steps["trust_mean"].iloc[-1]),
            "draw": float(noise[0]),
        }
        return FakeResult(metrics, steps, events)
