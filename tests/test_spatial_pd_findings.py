"""spatial-pd's README findings over 20 seeds (paired 95% intervals), each with its counterfactual.

A 20 x 20 torus with 10% defectors placed at random (the seed places them), 40
steps; a run's value is its mean over steps 20-40. Seeds are paired across arms.
- b decides the regime: the late cooperator share falls from b = 1.6 to 1.9 to
  2.1; without imitation (no update within the run) b changes nothing.
- A bound minority (40 agents under ``never-defect-first``) does not seed
  cooperation at b = 1.9: it lowers the cooperator share; above b = 2 the bound
  keep cooperating among themselves (cooperation rate above the unbound
  board's). The counterfactual binds the same minority by a spec that does not
  forbid defecting first (``empty``): both effects vanish.
- Asynchronous updating lowers the share at b = 1.85 (Huberman and Glance; 12 x 12);
  without updates the two modes are the same run.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from sim.runs.run import run
from tests.findings import SEEDS, excludes_zero, interval, vanishes

SIDE, STEPS = 20, 40
BOUND = 40
NO_UPDATE = 1000  # evolution.every beyond the run: nobody imitates


@functools.cache
def late(metric: str, t: float, bound: int = 0, spec: str = "never-defect-first", every: int = 1,
         update: str = "synchronous", side: int = SIDE) -> np.ndarray:
    """Per seed, the mean of ``metric`` over the run's second half."""
    defectors = side * side // 10
    over = {"groups.cooperators.count": side * side - defectors - bound, "groups.defectors.count": defectors,
            "groups.bound.count": bound, "groups.bound.spec": spec, "environment.T": t,
            "evolution.every": every, "evolution.update": update}
    return np.array([float(run("spatial-pd", seed=s, steps=STEPS, set=over).steps[metric].to_numpy()[STEPS // 2:]
                           .mean()) for s in SEEDS])


@pytest.mark.parametrize(("b_low", "b_high"), [(1.6, 1.9), (1.9, 2.1)])
def test_temptation_decides_the_regime(b_low: float, b_high: float) -> None:
    diff = late("share.cooperator", b_low) - late("share.cooperator", b_high)
    assert excludes_zero(diff) and diff.mean() > 0, interval(diff)
    # Counterfactual: without imitation the board keeps its start whatever b is.
    assert vanishes(late("share.cooperator", b_low, every=NO_UPDATE)
                    - late("share.cooperator", b_high, every=NO_UPDATE))


@pytest.mark.parametrize(("t", "metric", "sign"), [
    (1.9, "share.cooperator", -1),  # the bound minority does not seed cooperation: it costs some
    (2.5, "cooperation_rate", 1),   # above b = 2 the bound keep cooperating among themselves
])
def test_a_bound_minority(t: float, metric: str, sign: int) -> None:
    diff = late(metric, t, bound=BOUND) - late(metric, t)
    assert excludes_zero(diff) and np.sign(diff.mean()) == sign, interval(diff)
    # Counterfactual: the same minority under a spec that lets it defect first.
    assert vanishes(late(metric, t, bound=BOUND, spec="empty") - late(metric, t))


def test_asynchronous_updating_lowers_cooperation() -> None:
    # A 12 x 12 board: random sequential turns are a Python loop per update.
    def share(**kw: object) -> np.ndarray:
        return late("share.cooperator", 1.85, side=12, **kw)  # type: ignore[arg-type]

    diff = share(update="asynchronous") - share()
    assert excludes_zero(diff) and diff.mean() < 0, interval(diff)
    assert vanishes(share(every=NO_UPDATE, update="asynchronous") - share(every=NO_UPDATE))
