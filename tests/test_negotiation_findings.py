"""The README's negotiation findings, each with a 95% interval over 20 seeds and a counterfactual.

Small populations (4 buyers, 4 sellers, 12 steps) and fixed seeds 0-19; each
comparison runs both arms on the same seeds (common random numbers) and tests
the paired difference: its 95% interval (normal, 1.96 standard errors) must
exclude zero, and the counterfactual that removes the finding's mechanism must
make it vanish (an interval that contains zero, or no difference at all where
the mechanism is the only path).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.findings import SEEDS, arm, excludes_zero, vanishes

SMALL = (("steps", 12), ("groups.buyers.count", 4), ("groups.sellers.count", 4))
HONEST, CONF = "negotiation-honest-first", "negotiation-confidential-first"
# Nobody has anything to gain from a lie or a steer.
INDIFFERENT = (("groups.buyers.params.temptation", 0.0), ("groups.sellers.params.temptation", 0.0),
               ("groups.sellers.params.commission", 0.0))


def _arm(sid: str, detect: float, extra: tuple = ()) -> dict[str, np.ndarray]:
    return arm(sid, (*SMALL, ("environment.detect_prob", detect), *extra), SEEDS)


def test_honest_first_logs_more_conflicts_and_detection_lowers_them() -> None:
    """Honesty setting aside bluffs and quiet steers is a conflict under honest-first; the earlier
    ordering permits them. Counterfactual: agents with nothing to gain want neither."""
    diff = _arm(HONEST, 0.5)["conflicts"] - _arm(CONF, 0.5)["conflicts"]
    assert excludes_zero(diff) and diff.mean() > 0
    falls = _arm(HONEST, 0.0)["conflicts"] - _arm(HONEST, 0.5)["conflicts"]
    assert excludes_zero(falls) and falls.mean() > 0
    assert vanishes(_arm(HONEST, 0.5, INDIFFERENT)["conflicts"] - _arm(CONF, 0.5, INDIFFERENT)["conflicts"])


@pytest.mark.parametrize("metric", ["trust_mean", "welfare"])
def test_honest_first_trust_and_welfare_depend_on_detection(metric: str) -> None:
    """Honest-first agents still hint (lies of omission); caught hints cost trust and deals.
    Counterfactual: nobody is asked, nobody hints, and detection changes nothing."""
    diff = _arm(HONEST, 0.0)[metric] - _arm(HONEST, 0.5)[metric]
    assert excludes_zero(diff) and diff.mean() > 0
    quiet = (("environment.ask_prob", 0.0),)
    assert np.all(_arm(HONEST, 0.0, quiet)[metric] == _arm(HONEST, 0.5, quiet)[metric])


def test_detection_deters_deception_through_learning() -> None:
    """Each agent learns its own risk of being caught: detection cuts deceptions.
    Counterfactual: agents that keep the prior risk deceive the same at any detection rate."""
    diff = _arm(CONF, 0.0)["deceptions"] - _arm(CONF, 0.8)["deceptions"]
    assert excludes_zero(diff) and diff.mean() > 0
    frozen = (("environment.learn_risk", False),)
    assert np.all(_arm(CONF, 0.0, frozen)["deceptions"] == _arm(CONF, 0.8, frozen)["deceptions"])


def test_only_confidential_first_lies_and_steers_covertly() -> None:
    """The developer's permission to bluff and steer quietly takes effect only under the earlier
    ordering. Counterfactual: with nothing to gain, nobody lies under either."""
    for metric in ("lies", "covert_acts"):
        assert np.all(_arm(HONEST, 0.5)[metric] == 0)
        assert excludes_zero(_arm(CONF, 0.5)[metric])
    assert np.all(_arm(CONF, 0.5, INDIFFERENT)["lies"] == 0)


def test_covert_steering_costs_surplus_when_no_one_is_caught() -> None:
    """Without detection covert steers go on and the partner's cut eats thin deals.
    Counterfactual: a partner that takes no cut (steer_cost 0) leaves the surplus whole."""
    diff = _arm(HONEST, 0.0)["efficiency"] - _arm(CONF, 0.0)["efficiency"]
    assert excludes_zero(diff) and diff.mean() > 0
    free = (("environment.steer_cost", 0.0),)
    assert vanishes(_arm(HONEST, 0.0, free)["efficiency"] - _arm(CONF, 0.0, free)["efficiency"])


def test_seeds_differ() -> None:
    m = _arm(CONF, 0.5)
    assert len({(d, t) for d, t in zip(m["deceptions"], m["trust_mean"], strict=True)}) > 1
