"""The README's trust-game(-learning) and trust-network findings: 95% intervals, counterfactuals.

Small populations (12 reciprocal agents, 4 opportunists, 20 steps) and fixed
seeds 0-19 (tests/findings.py). Each finding compares two arms on the same
seeds; its counterfactual removes the mechanism (no promises to bind, no
cost to a lie found out) and the difference disappears: exactly, so five
seeds show it.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.findings import SEEDS, arm, excludes_zero

SMALL = (("steps", 20), ("groups.reciprocal.count", 12), ("groups.opportunists.count", 4))
BOUND, FREE = ("groups.opportunists.spec", "platform"), ("groups.opportunists.spec", "empty")
NO_PROMISES = (("environment.promises", False),)
FEW = SEEDS[:5]


def _diff(sid: str, a: tuple, b: tuple, metric: str, extra: tuple = (), seeds: tuple = SEEDS) -> np.ndarray:
    return arm(sid, (*SMALL, *extra, a), seeds)[metric] - arm(sid, (*SMALL, *extra, b), seeds)[metric]


@pytest.mark.parametrize(("sid", "metric", "sign"), [
    # Bound opportunists keep their word: they stay trusted and earn more...
    ("trust-game", "payoff.opportunists", 1),
    ("trust-game", "trust_mean", 1),
    # ... and the investment they keep attracts returns of a third, not the half reciprocators give.
    ("trust-game", "payoff.reciprocal", -1),
    # On the network a bound promise is a bound move: cooperation, trust and welfare rise,
    ("trust-network", "cooperation_rate", 1),
    ("trust-network", "trust_mean", 1),
    ("trust-network", "welfare", 1),
    # ... the opportunists keep their ties and their trade (reciprocators lose what rewiring gave them).
    ("trust-network", "payoff.opportunists", 1),
    ("trust-network", "payoff.reciprocal", -1),
])
def test_binding_opportunists_to_their_promises(sid: str, metric: str, sign: int) -> None:
    """Counterfactual: without promises there is no word to keep, and the spec changes nothing."""
    diff = _diff(sid, BOUND, FREE, metric)
    assert excludes_zero(diff) and np.sign(diff.mean()) == sign
    assert np.all(_diff(sid, BOUND, FREE, metric, NO_PROMISES, FEW) == 0)


@pytest.mark.parametrize("metric", ["payoff.opportunists", "trust_mean"])
def test_lies_found_out_cost_the_liars_on_the_network(metric: str) -> None:
    """Traders who trust promises keep dealing with a liar until they find it out: finding out
    half the lies (the scenario's detect_prob 0.5, against 0) cuts what opportunists earn and
    the trust they hold. Counterfactual: a lie found out that costs no trust (lie_penalty 0)
    changes nothing."""
    never = ("environment.detect_prob", 0.0)
    diff = arm("trust-network", (*SMALL, never, FREE))[metric] - arm("trust-network", (*SMALL, FREE))[metric]
    assert excludes_zero(diff) and diff.mean() > 0
    costless = (("environment.lie_penalty", 0.0), FREE)
    half = ("environment.detect_prob", 0.5)
    assert np.all(_diff("trust-network", never, half, metric, costless, FEW) == 0)


LEARNING = (("steps", 20), ("groups.learners.count", 10), ("groups.reciprocal.count", 5),
            ("groups.opportunists.count", 5))


@pytest.mark.parametrize("metric", ["learned.learners.phase1.belief.cooperates", "sent_share"])
def test_learners_believe_bound_opportunists_and_send_more(metric: str) -> None:
    """trust-game-learning: investors who learn by fictitious play come to believe partners come
    through more often when opportunists are bound to their promises, and more is sent.
    Counterfactual: without promises the opportunists' spec binds nothing and changes nothing."""
    sid = "trust-game-learning"
    diff = arm(sid, (*LEARNING, BOUND))[metric] - arm(sid, (*LEARNING, FREE))[metric]
    assert excludes_zero(diff) and diff.mean() > 0
    off = (*LEARNING, *NO_PROMISES)
    assert np.all(arm(sid, (*off, BOUND), FEW)[metric] == arm(sid, (*off, FREE), FEW)[metric])
