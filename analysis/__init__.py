"""Analysis of sweep results: aggregates with intervals, figures and reports.

The same functions serve the CLI (``specbound plot``, ``specbound report``) and
notebooks: they take pandas frames in the store's shapes and return frames or
matplotlib ``Figure`` objects.
"""

from analysis.aggregate import (
    Bootstrap,
    bootstrap_mean_ci,
    compliance_table,
    conflict_events,
    conflict_matrix,
    finished,
    paired_differences,
    summarize,
    timeseries,
    top_conflicts,
)
from analysis.labels import metric_label
from analysis.plots import (
    plot_compliance,
    plot_conflicts_heatmap,
    plot_metric,
    plot_network,
    plot_timeseries,
    save_figure,
)

__all__ = [
    "Bootstrap",
    "bootstrap_mean_ci",
    "compliance_table",
    "conflict_events",
    "conflict_matrix",
    "finished",
    "metric_label",
    "paired_differences",
    "plot_compliance",
    "plot_conflicts_heatmap",
    "plot_metric",
    "plot_network",
    "plot_timeseries",
    "save_figure",
    "summarize",
    "timeseries",
    "top_conflicts",
]
