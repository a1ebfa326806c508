"""ipd-q-learning over 20 seeds: a spec that forbids defecting first makes every round mutual cooperation.

Ten learners in five fixed pairs, 20 rounds, at either discount: under
``never-defect-first`` no learner ever gets to defect first, so every round
is mutual cooperation and the spec overrides the learners' favourites
(``overrides.never_defect_first``); without the spec (the counterfactual) exploring learners
defect and cooperation falls below one in every seed. The effect of gamma
itself is the fidelity test in ``tests/test_q_learning.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.findings import arm


def rounds(spec: str, gamma: float) -> dict[str, np.ndarray]:
    return arm("ipd-q-learning", (("steps", 20), ("groups.learners.count", 10), ("groups.learners.spec", spec),
                                  ("groups.learners.params.gamma", gamma)))


@pytest.mark.parametrize("gamma", [0.0, 0.95])
def test_never_defect_first_makes_every_round_mutual_cooperation(gamma: float) -> None:
    bound = rounds("never-defect-first", gamma)
    assert np.all(bound["cooperation_rate"] == 1.0) and np.all(bound["overrides.never_defect_first"] > 0)
    assert np.all(rounds("empty", gamma)["cooperation_rate"] < 1.0)
