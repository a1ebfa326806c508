"""spec-evolution over 20 seeds: which ordering takes over, and what detection does to it.

The shipped population (6 + 6 sellers, 8 buyers), 40 steps (eight Fermi
updates), seeds paired across arms:
- without detection the confidential-first ordering takes over: honest-first's
  final share is below a half and confidential-first fixes more often;
- detection (0.4 against 0) raises honest-first's share.
The counterfactual removes what deceiving earns (sellers with no temptation
and no commission): both orderings then choose alike, the share stays at a
half within its interval, and detection changes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.findings import arm, excludes_zero, interval, vanishes

HONEST, CONFIDENTIAL = "share.spec.honest-first", "spec.confidential-negotiator"
SELLERS = ("sellers_honest", "sellers_confidential")


def evolve(detect: float, gain: bool = True) -> dict[str, np.ndarray]:
    over: tuple[tuple[str, float], ...] = (("steps", 40), ("environment.detect_prob", detect))
    if not gain:  # nothing to win by a lie, a bluff or a quiet steer
        over += tuple((f"groups.{g}.params.{p}", 0.0) for g in SELLERS for p in ("temptation", "commission"))
    return arm("spec-evolution", over)


@pytest.mark.slow
def test_undetected_deception_decides_which_ordering_takes_over() -> None:
    blind = evolve(0.0)
    assert excludes_zero(blind[HONEST] - 0.5) and blind[HONEST].mean() < 0.5, interval(blind[HONEST] - 0.5)
    fixed = blind["fixation.spec.honest-first"] - blind[f"fixation.{CONFIDENTIAL}"]
    assert excludes_zero(fixed) and fixed.mean() < 0, interval(fixed)
    raised = evolve(0.4)[HONEST] - blind[HONEST]
    assert excludes_zero(raised) and raised.mean() > 0, interval(raised)
    # Counterfactual: with nothing to gain by deceiving the orderings drift, whatever detection.
    flat = evolve(0.0, gain=False)
    assert vanishes(flat[HONEST] - 0.5)
    assert vanishes(evolve(0.4, gain=False)[HONEST] - flat[HONEST])
