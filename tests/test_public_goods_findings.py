"""public-goods over 20 seeds: sanctions raise contributions a little, through learning breakers.

At r = 1.5, 15 steps, seeds paired: fined Roth-Erev breakers learn to give
now and then, so ``contribution_rate`` rises with sanctions (95% interval
above 0); breakers who cannot learn (the old fixed order) give the same with
or without fines. Pledges broken and the rise with r are tested in
``tests/test_env_public_goods.py``.
"""

from __future__ import annotations

import numpy as np

from sim.runs.run import run
from tests.findings import SEEDS, arm, excludes_zero, interval, vanishes
from tests.test_env_public_goods import FIXED_BREAKERS

BASE = (("steps", 15), ("environment.r", 1.5))


def fixed(sanctions: bool) -> np.ndarray:
    over = {**dict(BASE), "environment.sanctions": sanctions, **FIXED_BREAKERS}
    return np.array([run("public-goods", seed=s, set=over).metrics["contribution_rate"] for s in SEEDS[:5]])


def test_sanctions_raise_contributions_through_learning() -> None:
    def rate(sanctions: bool) -> np.ndarray:
        return arm("public-goods", (*BASE, ("environment.sanctions", sanctions)))["contribution_rate"]

    diff = rate(True) - rate(False)
    assert excludes_zero(diff) and diff.mean() > 0, interval(diff)
    assert vanishes(fixed(True) - fixed(False))
