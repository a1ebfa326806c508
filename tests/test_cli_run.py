"""`specbound list` and `specbound run`: the JSON contract, determinism and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from sim.scenario import load_scenario, scenario_ids

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_run_json_is_byte_identical_for_a_seed_and_differs_across_seeds() -> None:
    a = cli("run", "trust-network", "--seed", "4", "--steps", "15", "--json")
    b = cli("run", "trust-network", "--seed", "4", "--steps", "15", "--json")
    c = cli("run", "trust-network", "--seed", "5", "--steps", "15", "--json")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert a.stdout != c.stdout
    doc = json.loads(a.stdout)
    assert set(doc) >= {"scenario", "seed", "params", "metrics", "agents", "conflicts"}
    assert doc["params"] == {"steps": 15}
    assert set(doc["agents"][0]) >= {"id", "group", "policy", "spec", "payoff"}


@pytest.mark.parametrize("sid", [s for s in scenario_ids()
                                 if all(g.policy != "llm" for g in load_scenario(s).groups)])
def test_every_shipped_scenario_runs(sid: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", sid, "--steps", "5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["scenario"] == sid
    assert doc["metrics"]["welfare"] is not None


def test_list_names_scenarios_policies_checks_and_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ids = {r["id"] for r in doc["scenarios"]}
    assert {"ipd-classic", "trust-network", "negotiation-honest-first"} <= ids
    assert "tit_for_tat" in {r["id"] for r in doc["policies"]}
    assert "truthful" in {r["id"] for r in doc["checks"]}
    assert "trust_mean" in {r["id"] for r in doc["metrics"]}


BAD = [
    (["run", "nope"], "unknown scenario 'nope'"),
    (["run", "ipd-classic", "--set", "groups.cooperator.policy=nosuch"], "unknown policy 'nosuch'"),
    (["run", "ipd-classic", "--set", "groups.cooperator.spec=nosuch"], "unknown spec 'nosuch'"),
    (["run", "ipd-classic", "--set", "groups.cooperator.count=-1"], "count: -1 is out of range; allowed: 0.."),
    (["run", "ipd-classic", "--set", "groups.cooperator.count=many"], "expected an integer"),
    (["run", "ipd-classic", "--set", "environment.noise=lots"], "expected a number"),
    (["run", "ipd-classic", "--set", "environment.nosuch=1"], "unknown key 'nosuch'"),
    (["run", "ipd-classic", "--set", "nosuch.path=1"], "no such key 'nosuch'"),
    (["run", "ipd-classic", "--set", "scenario.environment=nosuch"], "unknown environment 'nosuch'"),
    (["run", "trust-network", "--set", "network.degree=500"], "does not fit"),
    (["run", "ipd-classic", "--set", "steps=0"], "at least 1"),
    (["run", "ipd-classic", "--steps", "0"], "0 is out of range; allowed: 1..1,000,000"),
    (["run", "ipd-classic", "--set", "specs.platform.principles.do_not_lie.level=boss"], "unknown level"),
    (["run", "ipd-classic", "--set", "noequals"], "expected PATH=VALUE"),
]


@pytest.mark.parametrize(("argv", "fragment"), BAD)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], fragment: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err
    assert "\n" not in err and "Traceback" not in err


def test_bad_input_leaves_nothing_in_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "res"
    assert main(["run", "ipd-classic", "--set", "environment.R=x", "--out", str(out)]) == 2
    assert not out.exists() or not any(out.iterdir())
    assert main(["run", "ipd-classic", "--steps", "3", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"result.json", "steps.csv", "events.csv"}


def test_trigger_on_unknown_metric_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "scenarios" / "ipd-classic.toml").read_text() + """
[[events]]
when = { metric = "nosuch_metric", above = 1 }
type = "shock"
set = { noise = 0.1 }
"""
    f = tmp_path / "s.toml"
    f.write_text(text)
    assert main(["run", str(f)]) == 2
    assert "unknown metric 'nosuch_metric'" in capsys.readouterr().err
