"""Metric functions against hand-computed values, and engine bookkeeping that feeds them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.metrics import efficiency, gini
from sim.model import SpecModel
from sim.runs.run import run
from sim.scenario import load_scenario, load_scenario_text


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 1, 1, 1], 0.0),
        ([0, 0, 0, 4], 0.75),  # (n + 1 - 2 * sum(cum/total)) / n = (5 - 2 * 1) / 4
        ([1, 2, 3, 4], 0.25),  # mean abs difference 20/16 over twice the mean 5
        ([], 0.0),
        ([0, 0], 0.0),
    ],
)
def test_gini(values: list[float], expected: float) -> None:
    assert gini(np.array(values, dtype=float)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("w", "base", "opt", "expected"),
    [(10, 10, 30, 0.0), (30, 10, 30, 1.0), (20, 10, 30, 0.5), (5, 5, 5, math.nan)],
)
def test_efficiency(w: float, base: float, opt: float, expected: float) -> None:
    got = efficiency(w, base, opt)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


TWO = """
[scenario]
id = "two"
environment = "ipd"
steps = {steps}
[network]
kind = "complete"
[groups.a]
count = 1
policy = "{a}"
spec = "empty"
[groups.b]
count = 1
policy = "{b}"
spec = "empty"
"""


def test_tit_for_tat_against_defector_metrics_by_hand() -> None:
    m = SpecModel(load_scenario_text(TWO.format(steps=10, a="tit_for_tat", b="defector")), seed=0)
    m.run()
    f = m.final_metrics()
    assert f["welfare"] == 9 + 14
    # baseline 2P = 2 and optimum 2R = 6 per round: (23 - 20) / (60 - 20)
    assert f["efficiency"] == pytest.approx(3 / 40)
    assert f["cooperation_rate"] == pytest.approx(1 / 20)
    # tit_for_tat saw 10 defections: Beta(0 + 1, 10 + 1) mean 1/12; the defector saw 1 C then 9 D: 2/12.
    assert f["trust_mean"] == pytest.approx((1 / 12 + 2 / 12) / 2)
    # The defector always defected (conduct 0) and tit_for_tat cooperated once in ten (0.1).
    assert f["trust_calibration"] == pytest.approx(1 - (abs(1 / 12 - 0) + abs(2 / 12 - 0.1)) / 2)
    assert m.series["welfare"][0] == 5 and m.series["welfare"][1] == 2


def test_deliberation_and_error_rate_change_compliance() -> None:
    base = {"groups.reciprocal.count": 12, "groups.opportunists.count": 8, "steps": 20,
            "groups.opportunists.spec": "platform"}
    careful = run("trust-network", seed=3, set=base)
    hasty = run("trust-network", seed=3, set={**base, "groups.opportunists.deliberation": 0.0})
    sloppy = run("trust-network", seed=3, set={**base, "groups.opportunists.error_rate": 0.5})
    # keep_promises is a system principle: the fast path checks only root ones, so hasty opportunists betray.
    assert careful.metrics["compliance.keep_promises"] == 1.0
    assert hasty.metrics["compliance.keep_promises"] < 0.9
    assert sloppy.metrics["compliance.keep_promises"] < 1.0
    assert hasty.metrics["deceptions"] > careful.metrics["deceptions"] == 0


def test_rewiring_cuts_ties_to_the_untrusted() -> None:
    # Unbound opportunists break their promises (bound ones keep them, and their ties).
    base = {"groups.reciprocal.count": 16, "groups.opportunists.count": 4, "steps": 30,
            "groups.opportunists.spec": "empty"}
    on = SpecModel(load_scenario("trust-network", base), seed=1)
    on.run()
    assert on.totals.counted.get("rewired", 0) > 0
    opp = np.flatnonzero(on.group_of == 1)
    # after rewiring, opportunists keep fewer ties than they started with on a degree-4 lattice
    assert np.mean([on.network.graph.degree(int(i)) for i in opp]) < 4



def test_patch_split_by_hand() -> None:
    from sim.metrics import patch_split

    series = {"deceptions": [4.0, 6.0, 0.0, 1.0], "welfare": [1.0, 1.0, 3.0, 5.0]}
    # A patch at step 3 applies from step 3 on: before = steps 1-2, after = steps 3-4.
    assert patch_split(series, [3]) == {
        "patch_step": 3.0, "deceptions.before_patch": 5.0, "deceptions.after_patch": 0.5,
        "welfare.before_patch": 1.0, "welfare.after_patch": 4.0,
    }
    assert patch_split(series, []) == {}


def test_spec_incident_reports_before_and_after() -> None:
    m = run("spec-incident", seed=1, set={"environment.detect_prob": 0.2}).metrics
    assert m["patch_step"] > 1
    assert m["deceptions.after_patch"] < m["deceptions.before_patch"]


def test_per_principle_compliance_is_a_step_series() -> None:
    base = {"groups.reciprocal.count": 12, "groups.opportunists.count": 8, "steps": 10,
            "groups.opportunists.deliberation": 0.0}
    r = run("trust-network", seed=3, set=base)
    series = r.steps["compliance.keep_promises"]
    assert len(series) == 10 and series.notna().all()
    assert (series < 1.0).any()


def test_injection_efficiency_is_zero_when_every_worker_is_hijacked() -> None:
    m = run("injection", seed=1, set={
        "groups.workers.count": 0, "groups.treasurer.count": 0, "environment.attack_prob": 1.0,
        "environment.invoice_prob": 0.0, "environment.overreach_prob": 0.0, "network.kind": "complete",
        "groups.gullible.params": {"susceptibility": 1.0},  # every one falls for every attack
    }).metrics
    assert m["injections_obeyed"] > 0
    assert m["efficiency"] == pytest.approx(0.0)


def test_public_goods_trust_is_calibrated_against_contributing() -> None:
    # Only open free riders: nobody contributes, everyone's trust in them falls, and that is right.
    m = run("public-goods", seed=1, set={"groups.keepers.count": 0, "groups.breakers.count": 0,
                                          "steps": 30}).metrics
    assert m["trust_mean"] < 0.1
    assert m["trust_calibration"] > 0.9


# --- final metrics read without numpy's Python wrappers: the same doubles -------------------


def _gini_wrapped(x: np.ndarray) -> float:
    """``gini`` as written with the wrappers (``min``, ``sum``, ``np.sort``, ``np.cumsum``)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return 0.0
    x = x - min(0.0, x.min())
    total = x.sum()
    if not total > 0:
        return 0.0
    return float((len(x) + 1 - 2 * (np.cumsum(np.sort(x)) / total).sum()) / len(x))


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 12, 17, 64, 130, 1000])
def test_gini_is_the_wrapped_formula_to_the_bit(n: int) -> None:
    rng = np.random.default_rng(n)
    for values in (rng.normal(size=n) * 1e3, rng.integers(-3, 9, n).astype(float), rng.random(n) ** 9):
        before = values.copy()
        assert gini(values) == _gini_wrapped(values)
        assert np.array_equal(values, before)  # sorted in a copy, never the caller's array


def test_trust_of_rows_means_are_the_mean_methods() -> None:
    from sim.metrics import trust_of_rows

    rng = np.random.default_rng(4)
    for rows in (1, 9, 66, 132, 301):
        trust = rng.random(rows)
        j = rng.integers(0, 12, rows)
        kept, total = rng.integers(0, 50, 12).astype(float), rng.integers(1, 60, 12).astype(float)
        for keep in (np.ones(rows, bool), rng.random(rows) < 0.7):
            mean, cal = trust_of_rows(trust, j, keep, kept, total)
            t, jj = trust[keep], j[keep]
            if not len(t):
                assert math.isnan(mean) and math.isnan(cal)
                continue
            assert mean == float(t.mean())
            assert cal == float(1.0 - np.abs(t - kept[jj] / total[jj]).mean())
        total[3] = 0.0  # a partner never seen: calibration over the known ones
        mean, cal = trust_of_rows(trust, j, np.ones(rows, bool), kept, total)
        known = total[j] > 0
        if known.any() and not known.all():
            assert cal == float(1.0 - np.abs(trust[known] - kept[j[known]] / total[j[known]]).mean())


@pytest.mark.parametrize("sid", ["ipd-classic", "public-goods", "injection", "commons-newcomer"])
def test_final_payoffs_are_group_payoffs(sid: str) -> None:
    from sim.metrics import group_payoffs, payoffs

    model = SpecModel(load_scenario(sid), seed=2)
    model.run(5)
    sums = np.bincount(model.group_of, weights=model.payoff, minlength=len(model.groups))
    want = {k: float(v) for k, v in group_payoffs(model, sums).items()}
    got = payoffs(model)
    assert list(got) == list(want)
    assert all(got[k] == want[k] for k in want)
