"""Analysis of sweep results: aggregates with intervals, figures and reports.

The same functions serve the CLI (``specbound plot``, ``specbound report``) and
notebooks: they take pandas frames in the store's shapes and return frames or
matplotlib ``Figure`` objects.

The names below are loaded on first use (PEP 562): importing one submodule,
say ``analysis.aggregate`` for the command line's defaults, must not pull in
matplotlib, which costs over a second at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

import agents  # noqa: F401  (first: pins numpy's CPU dispatch before numpy loads)

#: Each public name and the module that defines it.
_EXPORTS = {
    "Bootstrap": "analysis.aggregate",
    "bootstrap_mean_ci": "analysis.aggregate",
    "compliance_table": "analysis.aggregate",
    "conflict_events": "analysis.aggregate",
    "conflict_matrix": "analysis.aggregate",
    "finished": "analysis.aggregate",
    "paired_differences": "analysis.aggregate",
    "summarize": "analysis.aggregate",
    "timeseries": "analysis.aggregate",
    "top_conflicts": "analysis.aggregate",
    "metric_label": "analysis.labels",
    "plot_compliance": "analysis.plots",
    "plot_conflicts_heatmap": "analysis.plots",
    "plot_metric": "analysis.plots",
    "plot_network": "analysis.plots",
    "plot_timeseries": "analysis.plots",
    "save_figure": "analysis.plots",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
