"""Axis labels with units, read from the metric registry.

A figure that goes into a paper needs an axis that says what was measured and
in what unit; the metric name alone (``cooperation_rate``) does not. Labels
and units come from each metric's registration (``scenarios.metric_registry``),
so a plugin's metric is labelled like a built-in one. Unknown names (columns
that are not metrics) fall back to a readable form of the name, so a plot
never breaks on them.
"""

from __future__ import annotations

import sim.metrics  # noqa: F401  (registers the engine's metrics)
from scenarios.metric_registry import METRICS


def metric_label(metric: str, per_step: bool = False) -> str:
    """Axis label with unit for a metric, e.g. ``"mean trust (0-1)"``.

    Args:
        metric: a metric name from the contract (or any other column name).
        per_step: the value is one step's reading (time series) rather than a
            run's final value; counts then read "per step", run totals "per step".
    """
    m = METRICS.lookup(metric)
    if m is None:
        return metric.replace("_", " ")
    label, unit = m.label, m.unit
    if m.family:
        suffix = metric[len(m.name):]
        if m.name == "conflicts_by_level.":
            suffix = " over ".join(suffix.split(".", 1))
        label = label.format(suffix)
    if unit == "count":
        unit = "count per step" if per_step else "count per run"
    elif per_step and m.aggregate == "sum":
        unit = f"{unit} per step"
    return f"{label} ({unit})"


def param_label(path: str) -> str:
    """Axis label for a grid parameter: its dotted path, which users typed in --grid."""
    return path
