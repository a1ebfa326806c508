"""The live model is the batch model: what the page shows is what `specbound run` stores."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import sim
from agents.errors import SpecboundError
from sim.scenario import load_scenario, load_scenario_text
from viz.charts import SeriesChart, panels
from viz.controls import initial_values, model_params
from viz.live import LEDGER_ROWS, LiveModel
from viz.network import NetworkChart, compute_layout, edge_trust

CASES = [
    ("trust-network", {}, 1, 12),
    ("negotiation-honest-first", {"environment.detect_prob": 0.8}, 5, 6),
    ("commons-newcomer", {}, 2, 15),
    ("ipd-classic", {}, 0, 8),
]


@pytest.mark.parametrize(("scenario", "sets", "seed", "steps"), CASES)
def test_live_series_equal_the_batch_run(scenario, sets, seed, steps):
    model = LiveModel(scenario, seed=seed, **sets)
    for _ in range(steps):
        model.step()
    stored = sim.run(scenario, seed=seed, set=sets, steps=steps)
    frame = model.frame()
    pd.testing.assert_frame_equal(frame[list(stored.steps.columns)], stored.steps)
    # Per-step conflicts by level add up to the run's final totals.
    by_level = {c: frame[c].sum() for c in frame.columns if c.startswith("conflicts_by_level.")}
    finals = {k: v for k, v in stored.metrics.items() if k.startswith("conflicts_by_level.")}
    assert by_level == pytest.approx(finals)


def test_ledger_holds_the_last_steps_newest_first():
    model = LiveModel("negotiation-honest-first", seed=1)
    for _ in range(7):
        model.step()
    ledger = model.recent_conflicts(steps=2)
    assert not ledger.empty
    assert set(ledger["step"]) <= {6, 7}
    assert ledger["step"].iloc[0] == 7 and ledger["step"].is_monotonic_decreasing
    assert len(model.ledger) <= LEDGER_ROWS
    stored = sim.run("negotiation-honest-first", seed=1, steps=7).events
    last = stored[(stored["kind"] == "conflict") & (stored["step"] == 7)]
    assert len(ledger[ledger["step"] == 7]) == min(len(last), LEDGER_ROWS)
    assert set(ledger["winner"].dropna()) <= set(stored["winner"].dropna())


def test_patch_now_is_a_patch_spec_event_at_that_step():
    patch = {"principles.no_stonewalling.level": "guideline"}
    model = LiveModel("negotiation-honest-first", seed=2)
    for _ in range(3):
        model.step()
    model.patch_now("buyers", patch)
    for _ in range(3):
        model.step()
    sc = load_scenario("negotiation-honest-first")
    text = sc.text + ('\n[[events]]\nat = 4\nto = "buyers"\ntype = "patch_spec"\n'
                      'set = { "principles.no_stonewalling.level" = "guideline" }\n')
    scripted = sim.run(load_scenario_text(text, source=sc.source), seed=2, steps=6)
    pd.testing.assert_frame_equal(model.frame()[list(scripted.steps.columns)], scripted.steps)
    assert model.log.entries[-1]["detail"]["set"] == patch


@pytest.mark.parametrize(("group", "changes", "message"), [
    ("nobody", {"principles.do_not_lie.level": "root"}, "group 'nobody': not in this scenario"),
    ("buyers", {}, "needs at least one PATH=VALUE"),
    ("buyers", {"principles.no_such.level": "root"}, "no principle 'no_such'"),
])
def test_patch_now_refuses_bad_input(group, changes, message):
    model = LiveModel("negotiation-honest-first", seed=0)
    with pytest.raises(SpecboundError, match=message):
        model.patch_now(group, changes)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"source": "nope"}, "unknown scenario 'nope'"),
    ({"source": "trust-network", "seed": "x"}, "seed 'x': must be an integer"),
    ({"source": "trust-network", "seed": -1}, "seed -1: must be an integer"),
    ({}, "no scenario given"),
])
def test_live_model_refuses_bad_input(kwargs, message):
    with pytest.raises(SpecboundError, match=message):
        LiveModel(**kwargs)


@pytest.mark.parametrize(("scenario", "path", "control"), [
    ("trust-network", "groups.opportunists.spec", {"type": "Select", "value": "platform"}),
    ("commons", "specs.sustainable.principles.sustainable_take.level",
     {"type": "Select", "value": "system", "values": ["system", "user"]}),
    ("injection", "groups.attackers.count", {"type": "SliderInt", "min": 0, "max": 8}),
    ("tooth-fairy", "environment.child_share", {"type": "SliderFloat", "min": 0.0, "max": 0.8}),
    ("public-goods", "environment.sanctions", {"type": "Checkbox"}),
])
def test_controls_cover_group_specs_and_sweep_paths(scenario, path, control):
    sc = load_scenario(scenario)
    params = model_params(sc, scenario, {}, seed=4)
    assert params[path].items() >= control.items()
    assert params["seed"] == {"type": "InputText", "value": "4", "label": "seed"}
    assert all(f"groups.{g.name}.spec" in params for g in sc.groups)


@pytest.mark.parametrize("scenario", ["trust-network", "commons", "injection", "tooth-fairy"])
def test_untouched_controls_rebuild_the_scenario_run(scenario):
    sets = {"steps": 4}
    params = model_params(load_scenario(scenario, sets), scenario, sets, seed=3)
    model = LiveModel(**initial_values(params))
    for _ in range(4):
        model.step()
    stored = sim.run(scenario, seed=3, set=sets)
    pd.testing.assert_frame_equal(model.frame()[list(stored.steps.columns)], stored.steps)
    assert not model.running


def test_charts_draw_and_follow_new_columns():
    model = LiveModel("negotiation-honest-first", seed=0)
    chart, network = SeriesChart(), NetworkChart(model)
    assert [p.columns for p in panels(model.frame())] == [()] * 5
    for _ in range(2):
        model.step()
        for fig in (chart.draw(model.frame()), network.draw("spec")):
            fig.savefig(io.BytesIO(), format="png")
    shown = {line.get_label() for lines in chart.lines for line in lines.values()}
    assert {"trust_mean", "efficiency", "do_not_lie"} <= shown
    assert any(label.startswith("developer.") for label in shown)


def test_edge_trust_reads_without_adding_pairs():
    model = LiveModel("trust-network", seed=0)
    for _ in range(3):
        model.step()
    rows = len(model.pairs)
    edges, trust = edge_trust(model)
    assert len(model.pairs) == rows
    assert len(edges) == len(model.edges)
    met = ~np.isnan(trust)
    assert met.any() and ((trust[met] >= 0) & (trust[met] <= 1)).all()
    i, j = edges[np.flatnonzero(met)[0]]
    assert trust[met][0] == pytest.approx((model.trust_in(i, j) + model.trust_in(j, i)) / 2)


@pytest.mark.parametrize("n", [40, 1000])
def test_layout_is_computed_once_and_deterministic(n):
    import networkx as nx

    graph = nx.watts_strogatz_graph(n, 4, 0.1, seed=1)
    a, b = compute_layout(graph, n), compute_layout(graph, n)
    assert a.positions.shape == (n, 2)
    np.testing.assert_array_equal(a.positions, b.positions)


def test_batch_commands_never_import_the_dashboard():
    import json
    import subprocess
    import sys

    code = ("import contextlib, io, json, sys\nimport cli.main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    cli.main.main(['run', 'trust-network', '--steps', '2', '--json'])\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('viz', 'solara', 'reacton', 'ipywidgets') or m.startswith('mesa.visualization'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(("argv", "message"), [
    (["nope"], "unknown scenario 'nope'"),
    (["trust-network", "--port", "70000"], "--port 70000: allowed 0..65535"),
    (["trust-network", "--seed", "-2"], "seed -2: must be an integer"),
    (["trust-network", "--set", "groups.nobody.count=3"], "nobody"),
    (["trust-network", "--set", "steps"], "expected PATH=VALUE"),
])
def test_viz_command_refuses_bad_input_before_serving(argv, message, capsys):
    from cli.main import main

    assert main(["viz", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
