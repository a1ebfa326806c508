"""Tooth-fairy's README findings over 20 seeds (paired 95% intervals), each with its counterfactual.

Small populations (4 + 4 agents, 20 steps, child share 0.3), seeds paired across arms:
- a fixed prior decides lies and spoiled beliefs (0.9 lies more and spoils less than 0.1);
  with a perfect cue (``cue_accuracy = 1``) the prior no longer matters;
- learning from reactions pulls both priors towards the child share (fewer lies from 0.9,
  more from 0.1); with a prior that weighs a million reactions learning changes nothing;
- the careful-teller never lies and logs the honesty-care conflict, which grows with the
  child share; with no pressed questions there is no conflict at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.findings import arm, excludes_zero, interval, vanishes

SMALL = (("steps", 20), ("groups.careful.count", 4), ("groups.unbound.count", 4), ("environment.child_share", 0.3))


def tf(**env: Any) -> dict[str, np.ndarray]:
    return arm("tooth-fairy", SMALL + tuple((f"environment.{k}", v) for k, v in sorted(env.items())))


def fixed(prior: float, **env: Any) -> dict[str, np.ndarray]:
    return tf(prior=prior, reveal_prob=0.0, **env)


@pytest.mark.parametrize(("metric", "sign"), [("lies", 1), ("spoiled", -1)])
def test_a_fixed_prior_decides_lies_and_spoiled_beliefs(metric: str, sign: int) -> None:
    diff = fixed(0.9)[metric] - fixed(0.1)[metric]
    assert excludes_zero(diff) and np.sign(diff.mean()) == sign, interval(diff)
    # Counterfactual: a cue that never errs leaves nothing for the prior to decide.
    assert vanishes(fixed(0.9, cue_accuracy=1.0)[metric] - fixed(0.1, cue_accuracy=1.0)[metric])


@pytest.mark.parametrize(("prior", "sign"), [(0.9, -1), (0.1, 1)])
def test_learning_pulls_lies_towards_the_child_share(prior: float, sign: int) -> None:
    diff = tf(prior=prior, reveal_prob=0.5)["lies"] - fixed(prior)["lies"]
    assert excludes_zero(diff) and np.sign(diff.mean()) == sign, interval(diff)
    # Counterfactual: a prior worth a million reactions does not learn from a few hundred.
    heavy = 1e6
    assert vanishes(tf(prior=prior, reveal_prob=0.5, prior_weight=heavy)["lies"]
                    - fixed(prior, prior_weight=heavy)["lies"])


def test_the_careful_teller_logs_the_conflict_instead_of_lying() -> None:
    low, high = tf(child_share=0.1), tf(child_share=0.6)
    for m in (low, high):
        assert np.all(m["deceptions.careful"] == 0)  # every lie comes from the unbound
    conflicts = "conflicts_by_level.root.guideline"
    diff = np.nan_to_num(high[conflicts]) - np.nan_to_num(low[conflicts])
    assert excludes_zero(diff) and diff.mean() > 0, interval(diff)
    # Counterfactual: unpressed questions let a gentle truth serve everyone; nothing collides.
    for share in (0.1, 0.6):
        calm = tf(child_share=share, press_prob=0.0)
        assert np.all(np.nan_to_num(calm.get(conflicts, np.zeros(1))) == 0) and np.all(calm["lies"] == 0)
