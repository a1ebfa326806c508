"""``specbound plot`` and ``specbound report``: outputs, and one-line errors on bad input."""

from __future__ import annotations

import os
from pathlib import Path

import networkx as nx
import pytest

from cli import analysis as cli
from tests.analysis_data import write_store

MAGIC = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF", ".html": b"<!DOCTYPE html>"}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return write_store(tmp_path_factory.mktemp("cli") / "sweep")


@pytest.fixture(scope="module")
def failed_store(tmp_path_factory) -> Path:
    return write_store(tmp_path_factory.mktemp("cli") / "failed", all_failed=True)


def hand_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_node(0, group="buyers", payoff=1.0)
    graph.add_node(1, group="sellers", payoff=2.0)
    graph.add_edge(0, 1, trust=0.7)
    graph.add_edge(1, 0, trust=0.2)
    return graph


@pytest.fixture
def replays(monkeypatch) -> list[tuple]:
    """Stand in for the engine's replay; records what the CLI asked it to rerun."""
    calls: list[tuple] = []

    def fake(meta, seed, params, step):
        calls.append((meta["scenario"], seed, params, step))
        return hand_graph()

    monkeypatch.setattr(cli, "replay_trust_graph", fake)
    return calls


@pytest.mark.parametrize(("args", "name"), [
    (["--metric", "trust_mean"], "line.png"),
    (["--metric", "welfare", "--by", "spec.order", "--hue", "policy.threshold"], "bar.svg"),
    (["--metric", "trust_mean", "--kind", "line", "--hue", "spec.order"], "hue.pdf"),
    (["--metric", "conflicts", "--kind", "timeseries", "--hue", "spec.order"], "ts.png"),
    (["--kind", "timeseries"], "ts_default.png"),
    (["--kind", "heatmap"], "levels.png"),
    (["--kind", "heatmap", "--by", "principle"], "principles.svg"),
    (["--kind", "compliance"], "compliance.png"),
    (["--kind", "network", "--run", "2", "--color-by", "payoff"], "network.png"),
])
def test_plot_writes_the_figure(store, tmp_path, capsys, replays, args, name):
    out = tmp_path / name
    assert cli.main(["plot", str(store), *args, "-o", str(out)]) == 0
    assert out.read_bytes().startswith(MAGIC[out.suffix])
    assert capsys.readouterr().out.strip() == str(out)


def test_report_command_takes_several_folders(store, tmp_path, capsys):
    # The comparison itself is tested in test_report_layout.py; here, that the command
    # passes every folder on (a --sweep id is refused for several, before any work).
    other = write_store(tmp_path / "other")
    out = tmp_path / "both.html"
    assert cli.main(["report", str(store), str(other), "--sweep", "x", "-o", str(out)]) == 2
    assert "--sweep picks a sweep of one folder" in capsys.readouterr().err
    assert not out.exists()


def test_network_replays_the_stored_run(store, tmp_path, replays):
    assert cli.main(["plot", str(store), "--kind", "network", "--run", "6", "--step", "2",
                     "-o", str(tmp_path / "n.png")]) == 0
    # Run 6 is point 3 (0.8, secrecy), replicate 0, seed 11.
    assert replays == [("negotiation", 11, {"policy.threshold": 0.8, "spec.order": "secrecy"},
                        2)]


def test_network_defaults_to_first_run_and_last_step(store, tmp_path, replays):
    assert cli.main(["plot", str(store), "--kind", "network", "-o", str(tmp_path / "n.png")]) == 0
    assert replays[0][1:] == (11, {"policy.threshold": 0.2, "spec.order": "honesty"}, 3)


def test_report_command(store, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert cli.main(["report", str(store), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(MAGIC[".html"])
    assert capsys.readouterr().out.strip() == str(out)


@pytest.mark.parametrize(("args", "needles"), [
    (["--metric", "trust_meen"], ["unknown metric 'trust_meen'", "available:", "trust_mean",
                                  "welfare"]),
    (["--metric", "welfare", "--by", "spec.ordr"], ["unknown parameter 'spec.ordr'",
                                                    "policy.threshold, spec.order"]),
    (["--metric", "welfare", "--hue", "seed"], ["unknown parameter 'seed'", "spec.order"]),
    ([], ["--metric is required", "trust_mean"]),
    (["--kind", "timeseries", "--metric", "welfare"], ["per-step metric 'welfare'",
                                                       "conflicts, trust_mean"]),
    (["--kind", "heatmap", "--by", "agent"], ["allowed: level, principle"]),
    (["--kind", "network", "--run", "7"], ["--run 7", "available: 0, 1, 2, 3, 4, 5, 6"]),
    (["--kind", "network", "--step", "9"], ["--step 9", "allowed 0..3"]),
    (["--kind", "network", "--step", "-1"], ["--step -1", "allowed 0..3"]),
    (["--metric", "welfare", "--level", "2"], ["confidence level 2.0"]),
])
def test_plot_bad_arguments(store, tmp_path, capsys, replays, args, needles):
    out = tmp_path / "fig.png"
    assert cli.main(["plot", str(store), *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("specbound: ") and err.count("\n") == 1
    for needle in needles:
        assert needle in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("command", "folder", "output", "needles"), [
    ("plot", "empty", "fig.png", ["no specbound store", "store.sqlite"]),
    ("report", "empty", "r.html", ["no specbound store"]),
    ("plot", "missing", "fig.png", ["no such folder"]),
    ("plot", "failed", "fig.png", ["no finished runs", "8 failed of 8"]),
    ("report", "failed", "r.html", ["no finished runs"]),
    ("plot", "store", "fig.jpg", ["unknown extension '.jpg'", "allowed: .png, .svg, .pdf"]),
    ("plot", "store", "no/such/dir/fig.png", ["does not exist"]),
    ("report", "store", "no/such/dir/r.html", ["does not exist"]),
    ("report", "store", ".", ["is a folder"]),
])
def test_bad_folders_and_outputs(store, failed_store, tmp_path, capsys, command, folder, output,
                                 needles):
    folders = {"store": store, "failed": failed_store, "empty": tmp_path / "empty",
               "missing": tmp_path / "missing"}
    (tmp_path / "empty").mkdir()
    out = tmp_path / output
    args = [command, str(folders[folder]), "-o", str(out)]
    if command == "plot":
        args += ["--metric", "trust_mean"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    for needle in needles:
        assert needle in err
    # Nothing written: not the output, not a temp file.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


@pytest.mark.parametrize("command", ["plot", "report"])
def test_unwritable_output_folder(store, tmp_path, capsys, monkeypatch, command):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # Permission bits do not bind root (CI containers), so deny write access directly.
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        False if Path(path) == locked and mode & os.W_OK else real_access(path, mode, **kw)))
    out = locked / ("r.html" if command == "report" else "fig.png")
    extra = ["--metric", "trust_mean"] if command == "plot" else []
    assert cli.main([command, str(store), *extra, "-o", str(out)]) == 2
    assert "is not writable" in capsys.readouterr().err
    assert list(locked.iterdir()) == []


def test_register_adds_both_commands():
    import argparse

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["plot", "d", "--metric", "m", "-o", "f.png"])
    assert args.func is cli.run_plot
    assert parser.parse_args(["report", "d", "-o", "r.html"]).func is cli.run_report


def test_demo_outputs_writes_report_and_main_figures(tmp_path, replays):
    from cli.demo import demo_outputs

    folder = write_store(tmp_path / "demo")
    written = demo_outputs(folder)
    names = [p.name for p in written]
    assert names == ["report.html", "trust_mean_by_policy_threshold.png",
                     "welfare_by_policy_threshold.png", "trust_mean_over_time.png",
                     "conflicts_by_level.png", "compliance.png", "trust_network.png"]
    for path in written:
        assert path.read_bytes().startswith(MAGIC[path.suffix])
    assert len(replays) == 1


def test_network_replay_matches_the_stored_run(tmp_path):
    """End to end with the engine: the replayed graph's mean trust is the stored one."""
    import numpy as np

    from analysis.results import load_results
    from sim.runs.sweep import sweep

    out = tmp_path / "real"
    sweep("trust-network", grid={"groups.reciprocal.count": [6]},
          zip={"groups.opportunists.count": [2], "steps": [6]}, runs=1, seed=3, out=out,
          workers=1, progress=False)
    results = load_results(out)
    run_id = int(results.done["run_id"].iloc[0])
    seed, params = results.run_params(run_id)
    steps = results.steps([run_id])
    stored = steps[(steps["metric"] == "trust_mean") & (steps["step"] == 4)]["value"].item()
    graph = cli.replay_trust_graph(results.meta, seed, params, 4)
    trust = [t for _, _, t in graph.edges(data="trust")]
    assert graph.number_of_nodes() == 8
    assert np.mean(trust) == pytest.approx(stored)
    assert cli.main(["plot", str(out), "--kind", "network", "--step", "4",
                     "-o", str(tmp_path / "net.png")]) == 0


def test_plot_and_report_can_pick_an_older_sweep(tmp_path) -> None:
    from agents.errors import SpecboundError
    from analysis.results import load_results
    from sim.runs.store import Store
    from sim.runs.sweep import sweep

    out = tmp_path / "two"
    sweep("ipd-classic", grid={"steps": [3, 4]}, runs=1, out=out, workers=1, progress=False)
    sweep("ipd-classic", grid={"steps": [5, 6, 7]}, runs=1, out=out, workers=1, progress=False,
          allow_grid_change=True)
    with Store.open(out) as store:
        first, latest = (s.sweep_id for s in store.sweeps())
    assert first != latest
    assert sorted(load_results(out).runs["steps"]) == [5, 6, 7]
    older = load_results(out, first[:6])
    assert sorted(older.runs["steps"]) == [3, 4] and older.meta["sweep_id"] == first
    with pytest.raises(SpecboundError, match="matches 0 sweeps"):
        load_results(out, "zzz")
