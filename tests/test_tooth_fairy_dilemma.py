"""Tooth-fairy: honesty meets care when a probable child presses; lies follow the child share."""

from __future__ import annotations

import numpy as np
import pytest

from agents.policies import make_policy
from scenarios.tooth_fairy import ACTS, ToothFairyObs
from sim.runs.run import run


@pytest.mark.parametrize(("params", "obs", "first"), [
    ({"warmth": 1.0}, ToothFairyObs(1, 4, 1), "lie"),          # warm, surely a child, pressed
    ({"warmth": 0.2}, ToothFairyObs(1, 4, 1), "blunt_truth"),  # cool: the truth, whoever asks
    ({"warmth": 1.0}, ToothFairyObs(1, 0, 1), "blunt_truth"),  # surely an adult
    ({"warmth": 1.0}, ToothFairyObs(1, 4, 0), "gentle_truth"),  # unpressed: the gentle truth spoils nothing
    ({"warmth": 1.0, "scruple": 2.0}, ToothFairyObs(1, 4, 1), "blunt_truth"),  # a lie costs too much
    ({"warmth": 1.0}, ToothFairyObs(0, 4, 0), "blunt_truth"),  # an everyday question
])
def test_weighs_care_ranks_by_expected_value(params: dict, obs: ToothFairyObs, first: str) -> None:
    pol = make_policy("weighs_care", params)
    assert ACTS[pol.rank(obs, ACTS)[0]].name == first


@pytest.mark.parametrize(("press", "conflicts"), [(0.5, True), (0.0, False)])
def test_honesty_care_conflict_is_logged_when_pressed(press: float, conflicts: bool) -> None:
    m = run("tooth-fairy", seed=1, set={"steps": 10, "environment.press_prob": press}).metrics
    assert (m.get("conflicts_by_level.root.guideline", 0) > 0) is conflicts  # care_for_young lost to do_not_lie
    assert m["deceptions.careful"] == 0  # the careful-teller never lies: it spoils instead
    assert (m["dilemmas"] > 0) is conflicts


SMALL = {"steps": 20, "groups.careful.count": 4, "groups.unbound.count": 4}


def _paired(metric: str, low: dict, high: dict) -> np.ndarray:
    return np.array([run("tooth-fairy", seed=s, set={**SMALL, **high}).metrics[metric]
                     - run("tooth-fairy", seed=s, set={**SMALL, **low}).metrics[metric] for s in range(20)])


def _ci(x: np.ndarray) -> tuple[float, float]:
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


@pytest.mark.slow
def test_more_children_more_lies_only_when_pressed() -> None:
    """Unbound agents lie more as the child share grows from 0.1 to 0.6 (paired by seed, 95% CI
    above 0); with no pressed questions (press_prob 0) a gentle truth serves everyone and the
    effect vanishes (no lies at all)."""
    lo, hi = {"environment.child_share": 0.1}, {"environment.child_share": 0.6}
    assert _ci(_paired("lies", lo, hi))[0] > 0
    off = {"environment.press_prob": 0.0}
    assert np.all(_paired("lies", {**lo, **off}, {**hi, **off}) == 0)


@pytest.mark.slow
def test_spoiled_beliefs_need_child_listeners() -> None:
    """Careful-teller agents spoil beliefs when children ask (95% CI above 0 at child share 0.3);
    with no child listeners nothing is spoiled."""
    spoiled = _paired("spoiled", {"environment.child_share": 0.0}, {"environment.child_share": 0.3})
    assert _ci(spoiled)[0] > 0
    none = [run("tooth-fairy", seed=s, set={**SMALL, "environment.child_share": 0.0}).metrics["spoiled"]
            for s in range(5)]
    assert none == [0.0] * 5
