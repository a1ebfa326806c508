"""Imitation details the first tables leave open: mutation, the update period, per-step shares."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_evolution import _run


@pytest.mark.parametrize(("mutation", "appears"), [(0.0, False), (0.5, True)])
def test_mutation_brings_in_a_policy_no_group_plays(mutation: float, appears: bool) -> None:
    # Tit for tat is only in evolution.policies: without mutation no agent can ever copy it.
    model = _run(f'rule = "fermi"\ntemperature = 0.5\nmutation = {mutation}\npolicies = ["tit_for_tat"]',
                 steps=40, seed=1)
    tft = np.array(model.series["share.tit_for_tat"])
    assert bool(tft.max() > 0) is appears, tft
    shares = sum(np.array(model.series[f"share.{p}"]) for p in ("cooperator", "defector", "tit_for_tat"))
    np.testing.assert_allclose(shares, 1.0)


@pytest.mark.parametrize("every", [1, 3, 7])
def test_shares_change_only_at_update_steps(every: int) -> None:
    # Steps are numbered from 1; the update runs after steps that are multiples of `every`.
    model = _run(f'rule = "fermi"\ntemperature = 0.5\nmutation = 0.3\nevery = {every}', steps=42, seed=2)
    share = np.array(model.series["share.defector"])
    changed = np.flatnonzero(np.diff(share) != 0) + 2  # the step at which a new share shows
    assert len(changed) > 0
    assert all(step % every == 0 for step in changed.tolist()), changed


def test_level_shares_are_kept_every_step() -> None:
    from sim.runs.run import run

    r = run("spec-evolution", seed=1, steps=12, set={"evolution.evolve": ["level.do_not_lie"],
                                                      "evolution.levels": ["root", "guideline"],
                                                      "evolution.mutation": 0.5, "evolution.every": 2})
    root, guide = r.steps["share.level.do_not_lie.root"], r.steps["share.level.do_not_lie.guideline"]
    assert len(root) == 12
    np.testing.assert_allclose(root + guide, 1.0)
    assert root.nunique() > 1  # mutation between two levels moves the shares
