"""Publication figures of sweep results, as matplotlib ``Figure`` objects.

Every function builds a fresh :class:`matplotlib.figure.Figure` on its own Agg
canvas and never touches ``pyplot`` or the global backend: no figure registry,
no state that leaks from one call into the next, safe in workers and notebooks.

Colours are the Okabe-Ito palette (distinguishable under the common forms of
colour blindness); each series also gets its own marker, line style and hatch,
so a figure stays readable when printed in greyscale. Continuous scales use
``cividis``, whose lightness rises monotonically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from agents.errors import SpecboundError
from analysis.aggregate import (
    DEFAULT_BOOTSTRAP,
    Bootstrap,
    compliance_table,
    conflict_matrix,
    summarize,
    timeseries,
)
from analysis.formats import FORMATS
from analysis.labels import metric_label, param_label

#: Okabe-Ito colours, black last (it is kept for single series).
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442",
           "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)),
              (0, (8, 3)))
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")
SEQUENTIAL = "cividis"
KINDS = ("line", "bar")


def style(i: int) -> dict[str, object]:
    """Colour, marker, line style and hatch of the i-th series (cycled)."""
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)], "hatch": HATCHES[i % len(HATCHES)]}


def new_figure(width: float = 6.4, height: float = 4.2) -> Figure:
    """A figure bound to its own Agg canvas (no pyplot)."""
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _interval_note(boot: Bootstrap) -> str:
    return f"mean with {boot.level:.0%} bootstrap interval"


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _format(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def plot_metric(runs: pd.DataFrame, metric: str, by: str, hue: str | None = None,
                kind: str = "line", boot: Bootstrap = DEFAULT_BOOTSTRAP) -> Figure:
    """A final metric against a swept parameter, with intervals.

    Args:
        runs: one row per run (``Store.runs()``); failed runs are left out and
            their number shown in the title.
        metric: final metric on the y axis.
        by: parameter on the x axis.
        hue: optional second parameter; one line (or bar group member) per value.
        kind: ``"line"`` draws one line per hue value with a shaded interval band
            (numeric x on a numeric axis, categories evenly spaced); ``"bar"``
            draws grouped bars with error bars, for categorical parameters.
        boot: interval settings.

    Returns:
        The figure; ``fig.axes[0]`` holds one line (or one bar container) per hue value.
    """
    if kind not in KINDS:
        raise SpecboundError(f"plot kind {kind!r}; allowed: {', '.join(KINDS)}")
    keys = [by] if hue is None or hue == by else [by, hue]
    table = summarize(runs, metric, keys, boot)
    fig = new_figure()
    ax = fig.add_subplot()
    x_values = sorted(table[by].dropna().unique().tolist())
    numeric_x = kind == "line" and _is_numeric(table[by])
    positions = {v: (float(v) if numeric_x else float(i)) for i, v in enumerate(x_values)}
    series = [(None, table)] if len(keys) == 1 else list(table.groupby(hue, sort=True))
    width = 0.8 / max(len(series), 1)
    for i, (value, part) in enumerate(series):
        st = style(i if len(series) > 1 else 3)
        label = _format(value) if hue and len(keys) == 2 else _interval_note(boot)
        part = part.dropna(subset=["mean"])
        xs = np.array([positions[v] for v in part[by]])
        if kind == "line":
            ax.plot(xs, part["mean"], color=st["color"], marker=st["marker"],
                    linestyle=st["linestyle"], linewidth=1.8, markersize=6, label=label)
            ax.fill_between(xs, part["lo"], part["hi"], color=st["color"], alpha=0.2,
                            linewidth=0)
        else:
            offset = (i - (len(series) - 1) / 2) * width
            err = np.vstack([part["mean"] - part["lo"], part["hi"] - part["mean"]])
            ax.bar(xs + offset, part["mean"], width=width * 0.95, yerr=err, capsize=3,
                   color=st["color"], hatch=st["hatch"], edgecolor="black", linewidth=0.6,
                   error_kw={"elinewidth": 1.0, "ecolor": "black"}, label=label)
    if not numeric_x:
        ax.set_xticks([positions[v] for v in x_values], [_format(v) for v in x_values])
    ax.set_xlabel(param_label(by))
    ax.set_ylabel(metric_label(metric))
    ax.set_title(_title(metric_label(metric).split(" (")[0], by, table, boot))
    ax.grid(True, axis="y", color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)
    _legend_below(fig, ax, f"{hue} ({_interval_note(boot)})" if hue and len(keys) == 2 else None)
    return fig


def _legend_below(fig: Figure, ax: Axes, title: str | None) -> None:
    """Legend under the axes: it never covers data, whatever the data's shape.

    Entries are the bare values and the title names the parameter, so long
    dotted paths are printed once and the row fits the figure's width.
    """
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5),
               frameon=False, fontsize="small", title=title, title_fontsize="small")


def _title(what: str, by: str, table: pd.DataFrame, boot: Bootstrap) -> str:
    n_min, n_max = int(table["n"].min()), int(table["n"].max())
    n = f"n = {n_min}" if n_min == n_max else f"n = {n_min}-{n_max}"
    failed = int(table["n_failed"].sum())
    tail = f", {failed} failed runs excluded" if failed else ""
    return f"{what} by {by}\n({n} runs per point{tail})"


def plot_timeseries(steps: pd.DataFrame, metric: str, hue: str | None = None,
                    runs: pd.DataFrame | None = None,
                    boot: Bootstrap = DEFAULT_BOOTSTRAP) -> Figure:
    """A per-step metric over a run, mean and interval band across runs.

    Args:
        steps: long frame ``[run_id, step, metric, value]`` (``Store.steps()``).
        metric: per-step metric.
        hue: parameter column (of ``runs``, or of ``steps`` if merged already);
            one line per value.
        runs: runs frame, to leave out failed runs and look up ``hue``.
        boot: interval settings (each run's trajectory is resampled whole).

    Returns:
        The figure; ``fig.axes[0]`` holds one line per hue value.
    """
    table = timeseries(steps, metric, runs=runs, hue=hue, boot=boot)
    fig = new_figure()
    ax = fig.add_subplot()
    series = [(None, table)] if hue is None else list(table.groupby(hue, sort=True))
    for i, (value, part) in enumerate(series):
        st = style(i if len(series) > 1 else 3)
        label = _format(value) if hue else _interval_note(boot)
        # Markers every few steps only: a marker per step would hide the line.
        every = max(1, len(part) // 8)
        ax.plot(part["step"], part["mean"], color=st["color"], linestyle=st["linestyle"],
                marker=st["marker"], markevery=every, markersize=5, linewidth=1.6, label=label)
        ax.fill_between(part["step"].to_numpy(dtype=float), part["lo"].to_numpy(dtype=float),
                        part["hi"].to_numpy(dtype=float), color=st["color"], alpha=0.2,
                        linewidth=0)
    n_runs = int(table["n"].max()) if len(table) else 0
    ax.set_xlabel("step")
    ax.set_ylabel(metric_label(metric, per_step=True))
    ax.set_title(f"{metric_label(metric).split(' (')[0]} over time\n"
                 f"(up to {n_runs} runs per line)")
    ax.grid(True, color="0.9", linewidth=0.6)
    _legend_below(fig, ax, f"{hue} ({_interval_note(boot)})" if hue else None)
    return fig


def plot_conflicts_heatmap(source: pd.DataFrame, by: str = "level") -> Figure:
    """Which rules give way to which: conflict counts, winner rows by loser columns.

    Args:
        source: conflict events (store or flat shape), or a runs frame with
            ``conflicts_by_level.*`` columns (then cells are means per run).
        by: ``"level"`` (authority levels) or ``"principle"`` (principle ids).

    Returns:
        The figure; ``fig.axes[0].images[0]`` holds the matrix.
    """
    matrix = conflict_matrix(source, by)
    is_runs = "winner" not in source.columns and "data" not in source.columns
    fig = new_figure(width=max(5.0, 1.0 + 0.6 * matrix.shape[1]),
                     height=max(3.6, 1.4 + 0.45 * matrix.shape[0]))
    ax = fig.add_subplot()
    unit = "mean count per run" if is_runs else "count, all runs"
    if matrix.empty:
        ax.text(0.5, 0.5, "no conflicts recorded", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
    else:
        values = matrix.to_numpy(dtype=float)
        image = ax.imshow(values, cmap=SEQUENTIAL, aspect="auto", vmin=0)
        ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns],
                      rotation=30 if by == "principle" else 0, ha="right" if by == "principle"
                      else "center")
        ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index])
        for (r, c), v in np.ndenumerate(values):
            # Text colour from the cell's luminance: readable on every shade.
            red, green, blue, _ = image.cmap(image.norm(v))
            dark_cell = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            text = f"{v:,.0f}" if float(v).is_integer() else f"{v:.3g}"
            ax.text(c, r, text, ha="center", va="center", fontsize="small",
                    color="white" if dark_cell else "black")
        fig.colorbar(image, ax=ax, label=f"conflicts ({unit})")
    what = "authority level" if by == "level" else "principle"
    ax.set_xlabel(f"losing {what} (gave way)")
    ax.set_ylabel(f"winning {what} (prevailed)")
    ax.set_title(f"Rule conflicts by {what}")
    return fig


def plot_compliance(runs: pd.DataFrame, boot: Bootstrap = DEFAULT_BOOTSTRAP) -> Figure:
    """Per-principle compliance rates with intervals, lowest first.

    Args:
        runs: runs frame with ``compliance.<principle_id>`` columns.
        boot: interval settings.

    Returns:
        The figure; ``fig.axes[0]`` holds one bar per principle.
    """
    table = compliance_table(runs, boot)
    fig = new_figure(height=max(3.0, 1.2 + 0.35 * len(table)))
    ax = fig.add_subplot()
    ys = np.arange(len(table))
    err = np.vstack([table["mean"] - table["lo"], table["hi"] - table["mean"]])
    colors = [PALETTE[3] if m >= 0.95 else PALETTE[4] if m < 0.5 else PALETTE[0]
              for m in table["mean"].fillna(0)]
    hatches = ["" if m >= 0.95 else "xx" if m < 0.5 else "//" for m in table["mean"].fillna(0)]
    bars = ax.barh(ys, table["mean"], xerr=err, capsize=3, color=colors, edgecolor="black",
                   linewidth=0.6, error_kw={"elinewidth": 1.0, "ecolor": "black"})
    for bar, hatch in zip(bars, hatches, strict=True):
        bar.set_hatch(hatch)
    ax.set_yticks(ys, [f"{p} (n={n})" for p, n in zip(table["principle"], table["n"],
                                                      strict=True)])
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("compliance rate (share of applicable acts)")
    ax.set_title(f"Compliance per principle\n({_interval_note(boot)})")
    ax.grid(True, axis="x", color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)
    legend = [_patch(PALETTE[3], "", ">= 95%"), _patch(PALETTE[0], "//", "50-95%"),
              _patch(PALETTE[4], "xx", "< 50%")]
    # Outside the axes: bars may reach any length, a legend inside would cover one.
    ax.legend(handles=legend, frameon=False, fontsize="small", loc="upper left",
              bbox_to_anchor=(1.01, 1.0), title="compliance")
    return fig


def _patch(color: str, hatch: str, label: str) -> Patch:
    return Patch(facecolor=color, hatch=hatch, edgecolor="black", label=label)


def plot_network(graph: nx.DiGraph, color_by: str = "group", seed: int = 0,
                 title: str | None = None) -> Figure:
    """The trust network: edge colour is trust, node colour is group or payoff.

    Args:
        graph: directed graph with edge attribute ``trust`` (0-1) and node
            attributes ``group`` and ``payoff`` (as ``SpecModel.trust_graph()``).
        color_by: ``"group"`` (categorical, with marker shapes) or ``"payoff"``
            (continuous scale).
        seed: seed of the spring layout, so the same graph is drawn the same way.
        title: figure title; a default naming the network size if None.

    Returns:
        The figure; ``fig.axes[0].collections`` holds the node and edge artists.
    """
    if color_by not in ("group", "payoff"):
        raise SpecboundError(f"network color_by {color_by!r}; allowed: group, payoff")
    if graph.number_of_nodes() == 0:
        raise SpecboundError("trust network has no nodes to draw")
    missing = [n for n, d in graph.nodes(data=True) if color_by not in d]
    if missing:
        raise SpecboundError(f"network node {missing[0]!r} has no {color_by!r} attribute")
    fig = new_figure(width=6.8, height=5.6)
    ax = fig.add_subplot()
    pos = nx.spring_layout(graph, seed=seed, iterations=100)
    n = graph.number_of_nodes()
    # Marks shrink as the network grows, so a few hundred agents stay legible.
    node_size = float(np.clip(3000.0 / n, 12.0, 140.0))
    edge_width = float(np.clip(60.0 / max(graph.number_of_edges(), 1), 0.3, 1.4))
    edges = list(graph.edges(data="trust", default=np.nan))
    trust = np.array([t for _, _, t in edges], dtype=float)
    edge_norm = Normalize(0.0, 1.0)
    cmap = matplotlib.colormaps[SEQUENTIAL]
    if edges:
        nx.draw_networkx_edges(graph, pos, ax=ax, edgelist=[(u, v) for u, v, _ in edges],
                               edge_color=[cmap(edge_norm(t)) for t in np.nan_to_num(trust, nan=0.5)],
                               width=edge_width, alpha=0.85, arrows=graph.is_directed(),
                               arrowsize=max(3.0, node_size / 20), node_size=node_size,
                               connectionstyle="arc3,rad=0.08")
        sm = ScalarMappable(norm=edge_norm, cmap=cmap)
        fig.colorbar(sm, ax=ax, label="trust in partner (edge, 0-1)", shrink=0.8)
    if color_by == "group":
        groups = sorted({str(d["group"]) for _, d in graph.nodes(data=True)})
        handles = []
        for i, group in enumerate(groups):
            nodes = [n for n, d in graph.nodes(data=True) if str(d["group"]) == group]
            st = style(i)
            nx.draw_networkx_nodes(graph, pos, nodelist=nodes, ax=ax, node_size=node_size,
                                   node_color=st["color"], node_shape=st["marker"],
                                   edgecolors="black", linewidths=0.6)
            handles.append(Line2D([], [], color=st["color"], marker=st["marker"], linestyle="",
                                  markeredgecolor="black", markersize=8, label=group))
        ax.legend(handles=handles, title="group", frameon=False, fontsize="small",
                  loc="upper left", bbox_to_anchor=(1.25, 1.0))
    else:
        payoff = np.array([float(d["payoff"]) for _, d in graph.nodes(data=True)])
        lo, hi = float(payoff.min()), float(payoff.max())
        norm = Normalize(lo, hi if hi > lo else lo + 1.0)
        nodes = nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=node_size, node_color=payoff,
                                       cmap="viridis", vmin=norm.vmin, vmax=norm.vmax,
                                       edgecolors="black", linewidths=0.6)
        fig.colorbar(nodes, ax=ax, label="payoff (node, cumulative per agent)", shrink=0.8)
    ax.set_axis_off()
    ax.set_title(title or f"Trust network ({graph.number_of_nodes()} agents, "
                          f"{graph.number_of_edges()} trust edges)")
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 150) -> Path:
    """Write a figure atomically: to a temp file beside the target, then rename.

    A crash or a bad path never leaves an empty or half-written file behind.

    Raises:
        SpecboundError: unknown extension, or a folder that does not exist or
            cannot be written.
    """
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise SpecboundError(f"output {target}: unknown extension {target.suffix or '(none)'!r}; "
                             f"allowed: {', '.join('.' + f for f in FORMATS)}")
    folder = writable_folder(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".{fmt}", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format=fmt, dpi=dpi,
                        metadata={"Software": "specbound"} if fmt == "png" else None)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def writable_folder(target: Path) -> Path:
    """The folder of an output path, checked to exist and be writable."""
    if target.is_dir():
        raise SpecboundError(f"output {target}: is a folder; give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SpecboundError(f"output {target}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise SpecboundError(f"output {target}: folder {folder} is not writable")
    return folder


def figure_lines(fig: Figure) -> Sequence[Line2D]:
    """Data lines of a figure's first axes (what a test or notebook counts)."""
    return [line for line in fig.axes[0].get_lines() if line.get_label()[:1] != "_"]
