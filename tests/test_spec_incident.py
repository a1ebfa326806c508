"""Spec incident: the shock and the triggered patch fire at the right steps and change behaviour."""

from __future__ import annotations

import json

import pytest

from sim.runs.run import run


def _fired(r, kind: str) -> list[int]:
    return r.events[r.events.kind == kind].step.tolist()


def test_shock_at_10_then_patch_the_step_after_the_threshold() -> None:
    r = run("spec-incident", seed=1, set={"steps": 20})
    assert _fired(r, "shock") == [10]
    (patched,) = _fired(r, "patch_spec")
    d = r.steps["deceptions"]
    # The trigger reads the previous step's metric: it fires the step after the first step above 60.
    first_above = int(d[d > 60].index.min())
    assert patched == first_above + 1
    detail = json.loads(r.events[r.events.kind == "patch_spec"].detail.iloc[0])
    assert detail["set"]["principles.do_not_lie.level"] == "root"


@pytest.mark.parametrize("metric", ["deceptions", "covert_acts"])
def test_metric_is_zero_after_the_patch(metric: str) -> None:
    r = run("spec-incident", seed=2, set={"steps": 20})
    (patched,) = _fired(r, "patch_spec")
    s = r.steps[metric]
    assert s[s.index < patched].sum() > 0
    assert s[s.index >= patched].sum() == 0


def test_refusals_replace_deceptions_after_the_patch() -> None:
    r = run("spec-incident", seed=1, set={"steps": 20})
    (patched,) = _fired(r, "patch_spec")
    refusals = r.steps["refusals"]
    assert refusals[refusals.index < patched].sum() == 0
    assert refusals[refusals.index >= patched].sum() > 0


@pytest.mark.parametrize("steps,fires", [(9, False), (20, True)])
def test_no_trigger_before_the_shock(steps: int, fires: bool) -> None:
    # Before the shock few counterparts ask, so no step reaches the threshold.
    r = run("spec-incident", seed=1, set={"steps": steps})
    assert bool(_fired(r, "patch_spec")) is fires
