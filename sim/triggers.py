"""Metric triggers: an event fires when a per-step metric crosses a threshold over a window of steps.

A ``[[events]]`` table fires on a trigger instead of at a step::

    when = { metric = "deceptions", above = 60 }                          # last step's value
    when = { metric = "deceptions", above = 25, window = 5 }              # mean of the last 5 steps
    when = { metric = "complaints", above = 100, window = 10, stat = "sum" }
    when = { metric = "share.spec.honest-first", above = 0.75 }           # needs an [evolution] table

A window smooths one noisy step away, so what fires the event is a sustained
level of an emergent quantity (deceptions among learning agents, a share of a
spec under selection), not one unlucky draw. The window must be full (at
least ``window`` steps played) before the trigger may fire. Triggers read the
metrics of steps already played: an event fires at the start of the step
after the window crossed the threshold. Everything is checked when the
scenario loads, with one-line errors naming the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.errors import ScenarioError
from sim.tables import check_keys

if TYPE_CHECKING:
    from sim.evolution import EvolutionConfig
    from sim.model import SpecModel

KEYS: dict[str, type] = {"metric": str, "above": float, "below": float, "window": int, "stat": str}
STATS = ("mean", "sum")


@dataclass(frozen=True)
class Trigger:
    """A threshold on a per-step metric, over the last ``window`` steps (their ``stat``)."""

    metric: str
    op: str          # "above" | "below"
    value: float
    window: int = 1
    stat: str = "mean"

    def level(self, model: SpecModel) -> float | None:
        """The watched quantity now (None until the window is full or when the metric is missing)."""
        if self.window == 1:
            got = model.last_metrics.get(self.metric)
            if got is None and self.metric in model.totals.cumulative_names():
                got = model.totals.cumulative(self.metric)
            return got
        series = model.series.get(self.metric)
        if series is None or len(series) < self.window:
            return None
        vals = [v for v in series[-self.window:] if v == v]  # sparse metrics are NaN where absent
        if not vals:
            return None
        total = math.fsum(vals)
        return total if self.stat == "sum" else total / len(vals)

    def due(self, model: SpecModel) -> bool:
        """Whether the watched quantity has crossed the threshold."""
        got = self.level(model)
        if got is None or got != got:
            return False
        return got > self.value if self.op == "above" else got < self.value


def share_metrics(evolution: EvolutionConfig | None) -> set[str]:
    """The ``share.*`` metrics a run with this ``[evolution]`` table reports every step."""
    if evolution is None:
        return set()
    names = {f"share.{s.label}" for s in evolution.strains} | {f"share.spec.{s}" for s in evolution.specs}
    for p in evolution.principles:
        names |= {f"share.level.{p}.{str(lv).lower()}" for lv in evolution.levels}
    return names


def parse_trigger(w: Any, metrics: set[str], where: str, steps: int) -> Trigger:
    """A ``when`` table as a :class:`Trigger`; each problem is one line naming the key and what is allowed."""
    check_keys(w, KEYS, where)
    if "metric" not in w or (("above" in w) == ("below" in w)):
        raise ScenarioError(f"{where}: needs metric and exactly one of above/below")
    metric = w["metric"]
    if metric not in metrics and not metric.startswith("compliance."):
        if metric.startswith("share."):
            shares = sorted(m for m in metrics if m.startswith("share."))
            allowed = f"available: {', '.join(shares)}" if shares else "share.* metrics need an [evolution] table"
            raise ScenarioError(f"{where}.metric: unknown metric {metric!r}; {allowed}")
        raise ScenarioError(f"{where}.metric: unknown metric {metric!r}; available: {', '.join(sorted(metrics))}")
    window = w.get("window", 1)
    if not 1 <= window <= steps:
        raise ScenarioError(f"{where}.window: must be between 1 and the run's {steps} steps, got {window}")
    stat = w.get("stat", "mean")
    if stat not in STATS:
        raise ScenarioError(f"{where}.stat: unknown {stat!r}; allowed: {', '.join(STATS)}")
    op = "above" if "above" in w else "below"
    value = float(w[op])
    if not math.isfinite(value):
        raise ScenarioError(f"{where}.{op}: must be a finite number, got {w[op]!r}")
    return Trigger(metric, op, value, int(window), stat)
