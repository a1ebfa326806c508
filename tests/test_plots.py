"""Every figure kind renders, holds data, and reads back the expected artists."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import networkx as nx
import numpy as np
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from agents.errors import SpecboundError
from analysis.plots import (
    figure_lines,
    plot_compliance,
    plot_conflicts_heatmap,
    plot_metric,
    plot_network,
    plot_timeseries,
    save_figure,
)
from tests.analysis_data import events_frame, runs_frame, steps_frame

THRESHOLD, ORDER = "policy.threshold", "spec.order"


def png_pixels(fig: Figure) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    buffer.seek(0)
    return mpimg.imread(buffer, format="png")


def assert_has_data(fig: Figure, labelled: bool = True) -> None:
    pixels = png_pixels(fig)
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    # Axes, text and one series already give several; a blank canvas gives one.
    assert len(colours) > 10
    assert fig.axes[0].get_title()
    if labelled:  # a network drawing has no axes to label, only colour bars
        assert fig.axes[0].get_xlabel() or fig.axes[0].get_ylabel()


def bars(fig: Figure) -> list[BarContainer]:
    return [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]


def trust_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for node, group, payoff in [(0, "buyers", 3.0), (1, "buyers", 5.0), (2, "sellers", 1.0),
                                (3, "sellers", 8.0), (4, "auditors", 2.0)]:
        graph.add_node(node, group=group, payoff=payoff)
    for (u, v), trust in zip([(0, 1), (1, 0), (1, 2), (2, 3), (3, 0), (4, 2)],
                             [0.9, 0.8, 0.2, 0.5, 0.1, 0.6], strict=True):
        graph.add_edge(u, v, trust=trust)
    return graph


@pytest.mark.parametrize(("by", "hue", "n_lines", "xs"), [
    (THRESHOLD, None, 1, [0.2, 0.8]),
    (THRESHOLD, ORDER, 2, [0.2, 0.8]),
    # Categorical x on a line plot: evenly spaced positions with the values as ticks.
    (ORDER, THRESHOLD, 2, [0.0, 1.0]),
])
def test_line_plot_one_line_per_hue(by, hue, n_lines, xs):
    fig = plot_metric(runs_frame(), "trust_mean", by, hue=hue, kind="line")
    lines = figure_lines(fig)
    assert len(lines) == n_lines
    for line in lines:
        assert list(line.get_xdata()) == pytest.approx(xs)
    # One interval band per line.
    assert len(fig.axes[0].collections) == n_lines
    assert len(fig.legends[0].get_texts()) == n_lines
    assert_has_data(fig)


def test_line_plot_draws_the_means():
    fig = plot_metric(runs_frame(), "trust_mean", THRESHOLD, hue=ORDER)
    by_label = {line.get_label(): list(line.get_ydata()) for line in figure_lines(fig)}
    assert by_label["honesty"] == pytest.approx([0.6, 0.75])
    assert by_label["secrecy"] == pytest.approx([0.4, 0.4])
    assert fig.legends[0].get_title().get_text().startswith(ORDER)
    assert "1 failed runs excluded" in fig.axes[0].get_title()
    assert fig.axes[0].get_ylabel() == "mean trust (0-1)"


@pytest.mark.parametrize(("by", "hue", "n_groups", "per_group"), [
    (ORDER, None, 1, 2),
    (ORDER, THRESHOLD, 2, 2),
    (THRESHOLD, ORDER, 2, 2),
])
def test_bar_plot_bars_with_error_bars(by, hue, n_groups, per_group):
    fig = plot_metric(runs_frame(), "welfare", by, hue=hue, kind="bar")
    containers = bars(fig)
    assert len(containers) == n_groups
    assert all(len(c.patches) == per_group for c in containers)
    assert all(c.errorbar is not None for c in containers)
    # Hatches differ between series so they survive greyscale printing.
    assert len({c.patches[0].get_hatch() for c in containers}) == n_groups
    assert_has_data(fig)


def test_bar_heights_are_means():
    fig = plot_metric(runs_frame(), "welfare", ORDER, kind="bar")
    heights = [p.get_height() for p in bars(fig)[0].patches]
    assert heights == pytest.approx([6.75, 4.0])


@pytest.mark.parametrize(("hue", "n_lines"), [(None, 1), (ORDER, 2), (THRESHOLD, 2)])
def test_timeseries_one_line_per_hue(hue, n_lines):
    fig = plot_timeseries(steps_frame(), "trust_mean", hue=hue, runs=runs_frame())
    lines = figure_lines(fig)
    assert len(lines) == n_lines
    assert all(list(line.get_xdata()) == [0, 1, 2, 3] for line in lines)
    assert fig.axes[0].get_xlabel() == "step"
    assert_has_data(fig)


@pytest.mark.parametrize(("source", "by", "shape"), [
    ("events", "level", (2, 2)),
    ("events", "principle", (2, 2)),
    ("runs", "level", (1, 1)),
])
def test_conflicts_heatmap(source, by, shape):
    frame = events_frame() if source == "events" else runs_frame()
    fig = plot_conflicts_heatmap(frame, by=by)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == shape
    assert float(image.max()) > 0
    # One annotation per cell, so the numbers survive any colour rendering.
    assert len(fig.axes[0].texts) == shape[0] * shape[1]
    assert_has_data(fig)


def test_conflicts_heatmap_without_conflicts_says_so():
    empty = events_frame().iloc[0:0]
    fig = plot_conflicts_heatmap(empty, by="level")
    assert "no conflicts" in fig.axes[0].texts[0].get_text()


def test_compliance_one_bar_per_principle():
    fig = plot_compliance(runs_frame())
    (container,) = bars(fig)
    assert len(container.patches) == 2
    widths = sorted(p.get_width() for p in container.patches)
    assert widths == pytest.approx([5 / 7, 5.5 / 7])
    assert_has_data(fig)


@pytest.mark.parametrize(("color_by", "node_sets", "colorbars"), [
    # One node collection per group (own colour and marker), plus the trust colour bar.
    ("group", 3, 1),
    ("payoff", 1, 2),
])
def test_network_plot(color_by, node_sets, colorbars):
    fig = plot_network(trust_graph(), color_by=color_by, seed=1)
    ax = fig.axes[0]
    assert len(ax.collections) == node_sets
    assert len(ax.patches) == 6  # one arrow per trust edge
    assert len(fig.axes) == 1 + colorbars
    assert all(cb.get_ylabel() for cb in fig.axes[1:])
    assert_has_data(fig, labelled=False)


def test_network_layout_is_seeded():
    def positions(seed: int) -> np.ndarray:
        return plot_network(trust_graph(), seed=seed).axes[0].collections[0].get_offsets()

    assert np.array_equal(positions(2), positions(2))
    assert not np.array_equal(positions(2), positions(3))


def test_edge_colour_follows_trust():
    ax = plot_network(trust_graph(), seed=0).axes[0]
    colours = [tuple(p.get_edgecolor()) for p in ax.patches]
    assert len(set(colours)) == 6


@pytest.mark.parametrize(("call", "message"), [
    (lambda: plot_metric(runs_frame(), "welfare", ORDER, kind="pie"), "allowed: line, bar"),
    (lambda: plot_metric(runs_frame(), "welfare", "spec.orderr"), "unknown parameter"),
    (lambda: plot_metric(runs_frame(), "wellfare", ORDER), "unknown metric"),
    (lambda: plot_timeseries(steps_frame(), "welfare"), "unknown metric"),
    (lambda: plot_network(trust_graph(), color_by="spec"), "allowed: group, payoff"),
    (lambda: plot_network(nx.DiGraph()), "no nodes"),
    (lambda: plot_network(nx.DiGraph([(0, 1)])), "has no 'group'"),
])
def test_bad_input(call, message):
    with pytest.raises(SpecboundError, match=message):
        call()


def test_no_pyplot_state_leaks():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_metric(runs_frame(), "trust_mean", THRESHOLD)
    plot_network(trust_graph())
    assert plt.get_fignums() == before


@pytest.mark.parametrize(("name", "magic"), [
    ("fig.png", b"\x89PNG"), ("fig.svg", b"<?xml"), ("fig.PDF", b"%PDF"),
])
def test_save_figure_formats(tmp_path, name, magic):
    target = save_figure(plot_compliance(runs_frame()), tmp_path / name)
    assert target.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize(("name", "message"), [
    ("fig.jpg", "unknown extension '.jpg'; allowed: .png, .svg, .pdf"),
    ("fig", "unknown extension '(none)'"),
    ("missing/fig.png", "does not exist"),
])
def test_save_figure_refuses_bad_paths_and_writes_nothing(tmp_path, name, message):
    with pytest.raises(SpecboundError, match=message.replace("(", r"\(").replace(")", r"\)")):
        save_figure(plot_compliance(runs_frame()), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("metric", "per_step", "label"), [
    ("trust_mean", False, "mean trust (0-1)"),
    ("welfare", False, "welfare (total payoff of all agents)"),
    ("welfare", True, "welfare (total payoff of all agents per step)"),
    ("conflicts", False, "rule conflicts (count per run)"),
    ("conflicts", True, "rule conflicts (count per step)"),
    ("compliance.do_not_lie", False, "compliance with do_not_lie (share of applicable acts)"),
    ("conflicts_by_level.root.user", False, "conflicts root over user (count per run)"),
    ("payoff.buyers", False, "payoff of group buyers (cumulative, mean per agent)"),
    ("fish_left", False, "fish left"),
])
def test_axis_labels_carry_units(metric, per_step, label):
    from analysis.labels import metric_label

    assert metric_label(metric, per_step=per_step) == label
