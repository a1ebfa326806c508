"""Directions that follow from the rules, checked on small populations with fixed seeds.

Each comparison runs both arms with the same seeds (common random numbers).
Margins: the rules make the honest arms' lies and covert acts exactly
zero, so "more" is strict; the surplus share must differ by at least 0.05
(observed gap about 0.2); compliance by at least 0.02 (observed about 0.07).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.runs.run import run

SEEDS = (1, 2)
SHORT = 20


def _mean(scenario: str, metric: str, **overrides: object) -> float:
    return float(np.mean([run(scenario, seed=s, set={"steps": SHORT, **overrides}).metrics[metric]
                          for s in SEEDS]))


# Lies of commission and covert steering: forbidden at root under honest-first, permitted
# (and chosen by tempted agents) under confidential-first.
@pytest.mark.parametrize("metric", ["lies", "covert_acts"])
def test_confidential_first_deceives_more_than_honest_first(metric: str) -> None:
    honest = _mean("negotiation-honest-first", metric)
    confidential = _mean("negotiation-confidential-first", metric)
    assert honest == 0.0
    assert confidential > honest


# Covert steering eats thin deals: the surplus captured falls (trust differs little, see the README).
@pytest.mark.parametrize("metric,margin", [("surplus_share", 0.05)])
def test_confidential_first_earns_less_trust_and_surplus(metric: str, margin: float) -> None:
    assert _mean("negotiation-confidential-first", metric) < _mean("negotiation-honest-first", metric) - margin


@pytest.mark.parametrize("population,obeys", [
    ({"groups.gullible.count": 0}, False),   # platform workers only
    ({"groups.workers.count": 0}, True),     # gullible workers only
])
def test_gullible_obeys_injections_and_compliant_specs_obey_none(population: dict, obeys: bool) -> None:
    for s in SEEDS:
        m = run("injection", seed=s, set={"steps": SHORT, **population}).metrics
        assert m["injections_attempted"] > 0
        assert (m["injections_obeyed"] > 0) is obeys
        assert (m["stolen"] > 0) is obeys


def test_obeyed_injections_cost_welfare_and_trust() -> None:
    safe = [run("injection", seed=s, set={"steps": SHORT, "groups.gullible.count": 0}).metrics for s in SEEDS]
    hurt = [run("injection", seed=s, set={"steps": SHORT, "groups.workers.count": 0}).metrics for s in SEEDS]
    assert np.mean([m["efficiency"] for m in hurt]) < np.mean([m["efficiency"] for m in safe]) - 0.05
    assert np.mean([m["trust_mean"] for m in hurt]) < np.mean([m["trust_mean"] for m in safe]) - 0.02


# (Negotiation no longer shows it: its principals lift every default a fast agent would break.)
@pytest.mark.parametrize("scenario,groups,metric", [
    ("public-goods", ("keepers", "free_riders"), "compliance_rate"),
])
def test_deliberation_raises_compliance(scenario: str, groups: tuple[str, ...], metric: str) -> None:
    def compliance(d: float) -> float:
        return _mean(scenario, metric, **{f"groups.{g}.deliberation": d for g in groups})

    assert compliance(1.0) > compliance(0.0) + 0.02


def test_incident_patch_fires_and_deceptions_fall() -> None:
    for s in SEEDS:
        r = run("spec-incident", seed=s, set={"steps": 30, "environment.detect_prob": 0.2})
        fired = r.events[r.events.kind == "patch_spec"]
        assert len(fired) == 1
        step = int(fired.step.iloc[0])
        assert 5 < step < 30  # not before the five-step window is full
        d = r.steps["deceptions"]
        assert d[d.index >= step].mean() < d[d.index < step].mean()
        assert r.steps["covert_acts"][r.steps.index >= step].sum() == 0
