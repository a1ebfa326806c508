"""Axis labels with units for the metric names of the contract.

A figure that goes into a paper needs an axis that says what was measured and
in what unit; the metric name alone (``cooperation_rate``) does not. Unknown
metrics (environment metrics added later) fall back to a readable form of the
name, so a new metric never breaks a plot.
"""

from __future__ import annotations

#: Exact metric name -> (label, unit of the run's final value). Units follow
#: sim/metrics.py: counts and welfare are totals over the run (per step in a
#: time series), payoffs are cumulative means per agent.
METRIC_LABELS: dict[str, tuple[str, str]] = {
    "trust_mean": ("mean trust", "0-1"),
    "trust_calibration": ("trust calibration", "0-1, 1 = trust matches conduct"),
    "welfare": ("welfare", "total payoff of all agents"),
    "efficiency": ("efficiency", "0 = non-cooperative baseline, 1 = social optimum"),
    "gini": ("Gini coefficient of payoffs", "0 = equal, 1 = one agent has all"),
    "cooperation_rate": ("cooperation rate", "share of moves"),
    "conflicts": ("rule conflicts", "count"),
    "violations": ("root/system violations", "count"),
    "deceptions": ("deceptions", "count"),
    "covert_acts": ("covert acts", "count"),
    "injections_attempted": ("injections attempted", "count"),
    "injections_obeyed": ("injections obeyed", "count"),
    "compliance_rate": ("compliance rate", "share of applicable checks passed"),
    "payoff_focal": ("payoff, focal agents", "cumulative, mean per agent"),
    "payoff_background": ("payoff, background agents", "cumulative, mean per agent"),
    "survival": ("resource survival", "share"),
    "alive": ("agents alive", "count of agents"),
}

#: Metrics whose final value is a total over steps (their time series is per step).
TOTALS = frozenset({"welfare"})

#: Prefix of a family of metrics -> (label template, unit); ``{}`` is the suffix.
PREFIX_LABELS: dict[str, tuple[str, str]] = {
    "compliance.": ("compliance with {}", "share of applicable acts"),
    "conflicts_by_level.": ("conflicts {}", "count"),
    "payoff.": ("payoff of group {}", "cumulative, mean per agent"),
}


def metric_label(metric: str, per_step: bool = False) -> str:
    """Axis label with unit for a metric, e.g. ``"mean trust (0-1)"``.

    Args:
        metric: a metric name from the contract (or any other column name).
        per_step: the value is one step's reading (time series) rather than a
            run's final value; counts then read "per step".
    """
    if metric in METRIC_LABELS:
        label, unit = METRIC_LABELS[metric]
    else:
        family = next((p for p in PREFIX_LABELS if metric.startswith(p)), None)
        if family is None:
            return metric.replace("_", " ")
        template, unit = PREFIX_LABELS[family]
        suffix = metric[len(family):]
        if family == "conflicts_by_level.":
            suffix = " over ".join(suffix.split(".", 1))
        label = template.format(suffix)
    if unit == "count":
        unit = "count per step" if per_step else "count per run"
    elif metric in TOTALS and per_step:
        unit = f"{unit} per step"
    return f"{label} ({unit})"


def param_label(path: str) -> str:
    """Axis label for a grid parameter: its dotted path, which users typed in --grid."""
    return path
