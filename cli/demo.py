"""The figures and report ``specbound demo`` ends with.

``sim/cli.py`` calls :func:`demo_outputs` after the demo sweep; it writes the
HTML report and the main figures next to the store and returns their paths,
which the demo prints. The same call works on any sweep folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from pandas.api.types import is_numeric_dtype

from agents.errors import SpecboundError
from analysis.aggregate import DEFAULT_BOOTSTRAP, Bootstrap, varied
from analysis.plots import (
    plot_compliance,
    plot_conflicts_heatmap,
    plot_metric,
    plot_timeseries,
    save_figure,
)
from analysis.report import main_metrics, write_report
from analysis.results import load_results
from cli.analysis import network_figure


def demo_outputs(folder: str | os.PathLike[str], boot: Bootstrap = DEFAULT_BOOTSTRAP,
                 network: bool = True) -> list[Path]:
    """Write ``report.html`` and the main figures (PNG) into a sweep folder.

    Args:
        folder: the sweep's store folder; outputs go into it.
        boot: interval settings.
        network: also replay the first finished run to draw its trust network
            (one extra run of the engine).

    Returns:
        The paths written, report first.
    """
    out = Path(folder)
    results = load_results(out)
    written = [write_report(out, out / "report.html", boot)]
    params = varied(results.runs, results.params)
    if params:
        by, hue = params[0], (params[1] if len(params) > 1 else None)
        kind = "line" if is_numeric_dtype(results.runs[by]) else "bar"
        for metric in main_metrics(results.metrics)[:2]:
            fig = plot_metric(results.runs, metric, by, hue=hue, kind=kind, boot=boot)
            written.append(save_figure(fig, out / f"{metric}_by_{_slug(by)}.png"))
    present = results.step_metrics()
    series = next((m for m in ("trust_mean", "cooperation_rate", "welfare") if m in present), None)
    if series is not None:
        fig = plot_timeseries(results.steps(), series, hue=params[0] if params else None,
                              runs=results.runs, boot=boot)
        written.append(save_figure(fig, out / f"{series}_over_time.png"))
    events = results.events(kind="conflict")
    if not events.empty:
        written.append(save_figure(plot_conflicts_heatmap(events, by="level"),
                                   out / "conflicts_by_level.png"))
    if any(m.startswith("compliance.") for m in results.metrics):
        written.append(save_figure(plot_compliance(results.runs, boot=boot),
                                   out / "compliance.png"))
    if network:
        try:
            fig = network_figure(results, None, None, "group", seed=0)
        except SpecboundError as err:
            # A scenario without pairwise trust has no network to draw; say so, go on.
            print(f"specbound: no network figure: {err}")
        else:
            written.append(save_figure(fig, out / "trust_network.png"))
    return written


def _slug(path: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in path)
