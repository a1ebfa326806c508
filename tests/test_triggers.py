"""Metric triggers: thresholds over a window, share.* metrics, one-line errors at load."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from agents.errors import ScenarioError
from sim.runs.run import run
from sim.scenario import load_scenario
from sim.triggers import Trigger

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _model(series: list[float]) -> SimpleNamespace:
    totals = SimpleNamespace(cumulative_names=lambda: set())
    return SimpleNamespace(series={"m": series}, last_metrics={"m": series[-1]} if series else {}, totals=totals)


@pytest.mark.parametrize(("trigger", "series", "due"), [
    (Trigger("m", "above", 5.0), [9, 1], False),                     # the last step only
    (Trigger("m", "above", 5.0), [1, 9], True),
    (Trigger("m", "above", 5.0, window=3), [1, 9, 9], True),         # mean 6.33
    (Trigger("m", "above", 5.0, window=3), [1, 1, 9], False),        # one high step is not enough
    (Trigger("m", "above", 5.0, window=3), [9, 9], False),           # window not full yet
    (Trigger("m", "above", 10.0, window=3, stat="sum"), [1, 1, 9], True),
    (Trigger("m", "below", 2.0, window=2), [5, 1, 1], True),
    (Trigger("m", "above", 0.5, window=2), [math.nan, 1.0], True),   # a sparse step is skipped
])
def test_trigger_window(trigger: Trigger, series: list[float], due: bool) -> None:
    assert trigger.due(_model([float(x) for x in series])) is due


def _load_with(tmp_path: Path, base: str, old: str, new: str) -> object:
    text = (SCENARIOS / base).read_text()
    assert old in text
    path = tmp_path / base
    path.write_text(text.replace(old, new))
    return load_scenario(str(path))


INCIDENT_WHEN = 'when = { metric = "deceptions", above = 55, window = 5 }'


@pytest.mark.parametrize(("when", "message"), [
    ('when = { metric = "deceptions", above = 55, window = 0 }', "events[0].when.window: must be between 1"),
    ('when = { metric = "deceptions", above = 55, window = 41 }', "the run's 40 steps"),
    ('when = { metric = "deceptions", above = 55, stat = "max" }', "when.stat: unknown 'max'; allowed: mean, sum"),
    ('when = { metric = "deceptions", above = 55, below = 3 }', "exactly one of above/below"),
    ('when = { metric = "decepshuns", above = 55 }', "unknown metric 'decepshuns'"),
    ('when = { metric = "share.spec.platform", above = 0.5 }', "share.* metrics need an [evolution] table"),
    ('when = { metric = "deceptions", above = 55, window = 2.5 }', "when.window: expected int"),
])
def test_bad_trigger_is_one_line(tmp_path: Path, when: str, message: str) -> None:
    with pytest.raises(ScenarioError) as e:
        _load_with(tmp_path, "spec-incident.toml", INCIDENT_WHEN, when)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_trigger_on_a_share_of_an_evolving_population(tmp_path: Path) -> None:
    text = (SCENARIOS / "spec-evolution.toml").read_text()
    text += ('\n[[events]]\nwhen = { metric = "share.spec.confidential-negotiator", above = 0.6, window = 2 }\n'
             'type = "shock"\nset = { detect_prob = 0.9 }\n')
    (tmp_path / "evo.toml").write_text(text)
    sc = load_scenario(str(tmp_path / "evo.toml"))
    assert sc.events[-1].when == Trigger("share.spec.confidential-negotiator", "above", 0.6, 2, "mean")
    r = run(str(tmp_path / "evo.toml"), seed=1, set={"environment.detect_prob": 0.0})
    shares = r.steps["share.spec.confidential-negotiator"]
    fired = r.events[r.events.kind == "shock"].step.tolist()
    if fired:  # it fires the step after two steps averaged above 0.6, never before
        (at,) = fired
        assert shares.rolling(2).mean()[shares.index < at].max() > 0.6
    else:
        assert shares.rolling(2).mean().max() <= 0.6
