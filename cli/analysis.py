"""The ``plot`` and ``report`` sub-commands.

``register(subparsers)`` adds both to the ``specbound`` parser (``sim/cli.py``
wires it); each sets ``func(args) -> int`` as its handler. ``main(argv)`` runs
them stand-alone (tests, ``python -m cli.analysis``) with the same exit codes:
0 written, 2 bad input (one line on stderr, no traceback).

Output is checked before any work (extension, folder) and written through a
temp file, so a mistake never leaves an empty or broken file behind.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from agents.errors import SpecboundError
from analysis.aggregate import DEFAULT_BOOTSTRAP
from analysis.formats import EVAL_KINDS, FORMATS
from cli.base import SEED_MAX, float_in, int_in, run_commands
from sim.limits import MAX_RESAMPLES, MAX_STEPS

if TYPE_CHECKING:  # the handlers import these when they run: `specbound --help` stays light
    import networkx as nx
    import pandas as pd
    from matplotlib.figure import Figure

    from analysis.aggregate import Bootstrap
    from analysis.results import Results

PLOT_KINDS = ("line", "bar", "timeseries", "heatmap", "compliance", "network", *EVAL_KINDS)
#: The kinds each option means something for. Given with any other kind it is refused,
#: never ignored: a user who asked for a metric must not get a figure without it.
OPTION_KINDS: dict[str, tuple[str, ...]] = {
    "metric": ("line", "bar", "timeseries", "compliance"),
    "by": ("line", "bar", "heatmap"),
    "hue": ("line", "bar", "timeseries"),
    "run": ("network",),
    "step": ("network",),
    "color_by": ("network",),
}
#: What to ask for instead, where a near miss is likely.
OPTION_HINTS: dict[tuple[str, str], str] = {
    ("metric", "heatmap"): "the heatmap counts conflicts, winner by loser; --by level|principle "
                           "picks its axes",
    ("by", "compliance"): "for one principle by a grid path use --kind bar --metric "
                          "compliance.<principle> --by PATH",
    ("by", "timeseries"): "its x axis is the step; --hue PATH draws one line per value",
}
COMPLIANCE = "compliance."


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``plot`` and ``report`` to a parser's sub-commands."""
    plot = subparsers.add_parser(
        "plot", help="draw one figure of a sweep's results",
        description="Draw one figure from a sweep's store folder. An option that the chosen "
                    "--kind does not use is refused (exit 2), never ignored.")
    plot.add_argument("dir", metavar="DIR", help="the sweep's --out folder")
    plot.add_argument("--metric", "-m", help="metric to draw (line, bar, timeseries); for "
                      "compliance, the principles to show (comma-separated, default all)")
    plot.add_argument("--by", help="grid path on the x axis (line, bar); "
                                   "level or principle for heatmap")
    plot.add_argument("--hue", help="grid path with one series per value (line, bar, timeseries)")
    plot.add_argument("--sweep", metavar="ID", help="which sweep of the folder (id or prefix; default: the latest)")
    plot.add_argument("--kind", choices=PLOT_KINDS, default=None,
                      help="figure kind (default: line for a numeric --by, bar otherwise)")
    plot.add_argument("--run", type=int_in(0, SEED_MAX), help="run id (network; default: first finished run)")
    plot.add_argument("--step", type=int_in(0, MAX_STEPS), help="step to draw the network at (default: last)")
    plot.add_argument("--color-by", choices=("group", "payoff"), default=None,
                      help="node colour of the network plot (default group)")
    plot.add_argument("--seed", type=int_in(0, SEED_MAX), default=0, help="seed of bootstrap and layout")
    plot.add_argument("--level", type=float_in(0.0, 1.0, open_ends=True), default=DEFAULT_BOOTSTRAP.level,
                      help="interval coverage (default 0.95)")
    plot.add_argument("--resamples", type=int_in(1, MAX_RESAMPLES), default=DEFAULT_BOOTSTRAP.resamples,
                      help="bootstrap resamples")
    plot.add_argument("-o", "--output", required=True, metavar="FILE",
                      help=f"output file ({', '.join('.' + f for f in FORMATS)})")
    plot.set_defaults(func=run_plot)

    report = subparsers.add_parser(
        "report", help="write a self-contained HTML report of one sweep or several",
        description="Write one HTML file with the sweep's question, what was found (main "
                    "contrasts with intervals), figures, tables, top conflicts and provenance. "
                    "Several folders: one report comparing them, their headline metrics side "
                    "by side.")
    report.add_argument("dir", metavar="DIR", nargs="+", help="the sweep's --out folder (or several)")
    report.add_argument("-o", "--output", required=True, metavar="FILE", help="report.html")
    report.add_argument("--seed", type=int_in(0, SEED_MAX), default=0, help="seed of the bootstrap")
    report.add_argument("--sweep", metavar="ID", help="which sweep of the folder (id or prefix; default: the latest)")
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``report``: write the HTML file and print its path."""
    from analysis.aggregate import Bootstrap
    from analysis.evals import eval_report
    from analysis.report import write_report

    # An eval folder gets the eval report (one folder; several are compared as sweeps).
    if len(args.dir) == 1 and eval_report(argparse.Namespace(**{**vars(args), "dir": args.dir[0]})):
        return 0

    path = write_report(args.dir, args.output, Bootstrap(seed=args.seed), sweep=args.sweep)
    print(path)
    return 0


def run_plot(args: argparse.Namespace) -> int:
    """Handler of ``plot``: draw the figure, write it atomically, print its path."""
    from analysis.aggregate import Bootstrap
    from analysis.plots import save_figure, writable_folder
    from analysis.results import load_results

    output = Path(args.output)
    # Validate the cheap things first: a typo in -o should not cost a rerun.
    if output.suffix.lower().lstrip(".") not in FORMATS:
        raise SpecboundError(f"output {output}: unknown extension {output.suffix or '(none)'!r}; "
                             f"allowed: {', '.join('.' + f for f in FORMATS)}")
    writable_folder(output)
    from analysis.evals import eval_plot

    if eval_plot(args):  # an eval folder, or --kind eval-*
        return 0
    refuse_unused_options(args)
    boot = Bootstrap(level=args.level, resamples=args.resamples, seed=args.seed)
    results = load_results(args.dir, args.sweep)
    fig = build_figure(results, args, boot)
    print(save_figure(fig, output))
    return 0


def refuse_unused_options(args: argparse.Namespace) -> None:
    """One line naming an option the chosen kind would ignore and the kinds that use it."""
    kind = args.kind or "line"  # the default is line or bar, which take the same options
    for dest, kinds in OPTION_KINDS.items():
        if getattr(args, dest, None) is None or kind in kinds:
            continue
        flag = "--" + dest.replace("_", "-")
        shown = f"--kind {args.kind}" if args.kind else "the default kind (line or bar)"
        hint = OPTION_HINTS.get((dest, kind))
        raise SpecboundError(f"{flag} is not used by {shown}; it applies to --kind "
                             f"{', '.join(kinds)}" + (f" ({hint})" if hint else ""))


def build_figure(results: Results, args: argparse.Namespace, boot: Bootstrap) -> Figure:
    """The figure that the ``plot`` arguments ask for."""
    from pandas.api.types import is_numeric_dtype

    from analysis.aggregate import varied
    from analysis.plots import plot_compliance, plot_conflicts_heatmap, plot_metric, plot_timeseries

    kind = args.kind
    if kind in (None, "line", "bar"):
        metric = _metric(results, args.metric)
        axes = varied(results.runs, results.params) or list(results.params)
        by = args.by or (axes[0] if axes else None)
        if by is None:
            raise SpecboundError(f"{results.folder}: no parameter was swept, so there is no x "
                                 "axis; use --kind timeseries, heatmap, compliance or network")
        results.require_param(by)
        if args.hue is not None:
            results.require_param(args.hue)
        if kind is None:
            kind = "line" if is_numeric_dtype(results.runs[by]) else "bar"
        return plot_metric(results.runs, metric, by, hue=args.hue, kind=kind, boot=boot)
    if kind == "timeseries":
        present = results.step_metrics()
        metric = args.metric or "trust_mean"
        if metric not in present:
            raise SpecboundError(f"unknown per-step metric {metric!r} in {results.folder}; "
                                 f"available: {', '.join(present) or '(none)'}")
        if args.hue is not None:
            results.require_param(args.hue)
        return plot_timeseries(results.steps(), metric, hue=args.hue, runs=results.runs,
                               boot=boot)
    if kind == "heatmap":
        by = args.by or "level"
        if by not in ("level", "principle"):
            raise SpecboundError(f"heatmap --by {by!r}; allowed: level, principle")
        events = results.events(kind="conflict")
        if events.empty and results.ledgers == {"none"} and by == "principle":
            raise SpecboundError(f"{results.folder}: heatmap --by principle needs stored conflicts, "
                                 "and this sweep ran with --ledger none; use --by level (from the "
                                 "run totals) or rerun the sweep with --ledger counts or full")
        if events.empty and by == "level" and any(
                m.startswith("conflicts_by_level.") for m in results.metrics):
            return plot_conflicts_heatmap(results.done, by="level")
        return plot_conflicts_heatmap(events.assign(kind="conflict"), by=by)
    if kind == "compliance":
        return plot_compliance(compliance_runs(results.runs, args.metric), boot=boot)
    return network_figure(results, args.run, args.step, args.color_by or "group", args.seed)


def compliance_runs(runs: pd.DataFrame, metric: str | None) -> pd.DataFrame:
    """``runs`` with only the ``compliance.<principle>`` columns that ``--metric`` names.

    ``metric`` is a comma-separated list of principle ids, each with or without the
    ``compliance.`` prefix; None keeps every principle.
    """
    if metric is None:
        return runs
    present = [c[len(COMPLIANCE):] for c in runs.columns if c.startswith(COMPLIANCE)]
    wanted = [name.strip().removeprefix(COMPLIANCE) for name in metric.split(",") if name.strip()]
    if not wanted:
        raise SpecboundError(f"--metric {metric!r}: name one or more principles, comma-separated; "
                             f"available: {', '.join(present) or '(none)'}")
    for name in wanted:
        if name not in present:
            raise SpecboundError(f"--metric {name!r}: no compliance metric for that principle; "
                                 f"available: {', '.join(present) or '(none)'}")
    return runs.drop(columns=[COMPLIANCE + p for p in present if p not in wanted])


def _metric(results: Results, metric: str | None) -> str:
    if metric is None:
        raise SpecboundError(f"--metric is required for this plot; available: "
                             f"{', '.join(results.metrics) or '(none)'}")
    results.require_metric(metric)
    return metric


def network_figure(results: Results, run_id: int | None, step: int | None, color_by: str,
                   seed: int) -> Figure:
    """Rerun one stored run up to ``step`` and draw its trust network.

    The store keeps no per-edge trust (it would be agents x partners x steps);
    the run is deterministic given its seed and parameters, so replaying it is
    exact and cheap for one run.
    """
    from analysis.plots import plot_network

    done = results.done
    ids = done["run_id"].astype(int).tolist()
    if run_id is None:
        run_id = ids[0]
    elif run_id not in ids:
        shown = ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
        raise SpecboundError(f"--run {run_id}: not a finished run in {results.folder}; "
                             f"available: {shown}")
    steps = results.steps([run_id])["step"]
    if steps.empty:
        raise SpecboundError(f"run {run_id} recorded no steps, so there is no step to draw")
    first, last = int(steps.min()), int(steps.max())
    if step is None:
        step = last
    elif not first <= step <= last:
        raise SpecboundError(f"--step {step}: allowed {first}..{last} for run {run_id}")
    seed_of_run, params = results.run_params(run_id)
    graph = replay_trust_graph(results.meta, seed_of_run, params, step)
    return plot_network(graph, color_by=color_by, seed=seed,
                        title=f"Trust network of run {run_id} at step {step}")


def replay_trust_graph(meta: dict, seed: int, params: dict, step: int) -> nx.DiGraph:
    """The trust graph of a stored run at a step, by rerunning it deterministically.

    The scenario and spec texts stored with the sweep are used when present (as
    ``specbound rerun`` does), so the replay does not depend on files that may
    have changed since; otherwise the scenario is loaded by its recorded name.
    """
    # The engine is needed only for this one figure; importing it lazily keeps
    # every other plot free of the simulator.
    from sim.runs.run import run_model
    from sim.scenario import load_scenario_text

    if meta.get("scenario_text"):
        scenario = load_scenario_text(meta["scenario_text"], dict(meta.get("specs") or {}),
                                      dict(params))
        model = run_model(scenario, seed=seed, steps=step)
    elif meta.get("scenario"):
        model = run_model(meta["scenario"], seed=seed, set=dict(params), steps=step)
    else:
        raise SpecboundError("store meta has no scenario; cannot replay a run for the network")
    return model.trust_graph()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``plot`` or ``report`` alone; returns the exit code (2 for bad input)."""
    return run_commands(register, argv)


if __name__ == "__main__":
    raise SystemExit(main())
