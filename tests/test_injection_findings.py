"""injection's README finding without attack, over 20 seeds: the gullible spec loses utility anyway.

Its workers obey the treasurer's overreach (an order to transfer everything,
outside the delegation's scope), so with no adversary at all (``attack_prob =
0``) gullible utility stays below the platform's. Counterfactual: a treasurer
that never overreaches (``overreach_prob = 0``) leaves the two specs equal.
The findings under attack are in ``tests/test_env_injection.py``.
"""

from __future__ import annotations

import numpy as np

from tests.findings import arm, excludes_zero, interval, vanishes

QUIET = (("steps", 16), ("environment.attack_prob", 0.0))


def loss(*extra: tuple[str, float]) -> np.ndarray:
    m = arm("injection", (*QUIET, *extra))
    return m["utility.platform"] - m["utility.gullible"]


def test_the_gullible_spec_loses_utility_without_attack_through_the_overreach() -> None:
    diff = loss()
    assert excludes_zero(diff) and diff.mean() > 0, interval(diff)
    assert vanishes(loss(("environment.overreach_prob", 0.0)))
