"""Tooth-fairy: Bayes posterior buckets, the age_appropriate check and spec choices as tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agents.chain import Binding
from scenarios.tooth_fairy import ACTS, ToothFairyObs, age_appropriate, belief_bucket, posterior
from sim.runs.run import run

BLUNT_FIRST = tuple(ACTS.index_of(n) for n in ("blunt_truth", "gentle_truth", "deflect", "lie"))
LIE_FIRST = tuple(ACTS.index_of(n) for n in ("lie", "gentle_truth", "deflect", "blunt_truth"))


@pytest.mark.parametrize("prior,cue_child,accuracy,expected,bucket", [
    (0.3, True, 0.8, 0.24 / 0.38, 3),   # 0.3*0.8 / (0.3*0.8 + 0.7*0.2)
    (0.3, False, 0.8, 0.06 / 0.62, 0),  # 0.3*0.2 / (0.3*0.2 + 0.7*0.8)
    (0.5, True, 0.5, 0.5, 2),           # an uninformative cue leaves the prior
    (1.0, False, 0.8, 1.0, 4),          # certainty stays certain
    (0.0, True, 0.8, 0.0, 0),
])
def test_posterior(prior: float, cue_child: bool, accuracy: float, expected: float, bucket: int) -> None:
    p = posterior(prior, np.array([cue_child]), accuracy)
    assert p[0] == pytest.approx(expected)
    assert belief_bucket(p).tolist() == [bucket]


@pytest.mark.parametrize("sensitive,belief,act,expected,pressed", [
    (1, 3, "blunt_truth", False, 0),
    (1, 3, "gentle_truth", True, 0),
    (1, 3, "lie", True, 0),          # care alone does not forbid lying: honesty does
    (1, 1, "blunt_truth", None, 0),  # probably an adult: not applicable
    (0, 4, "blunt_truth", None, 0),  # nothing to spoil
    (1, 3, "gentle_truth", False, 1),  # pressed for yes or no: every true answer spoils
    (1, 3, "deflect", False, 1),
    (1, 3, "lie", True, 1),           # ... and only the lie keeps the belief: care meets honesty
    (1, 1, "blunt_truth", None, 1),
])
def test_age_appropriate(sensitive: int, belief: int, act: str, expected: bool | None, pressed: int) -> None:
    assert age_appropriate(ToothFairyObs(sensitive, belief, pressed), ACTS[ACTS.index_of(act)]) is expected


@pytest.mark.parametrize("spec,ranking,sensitive,belief,chosen", [
    ("careful-teller", BLUNT_FIRST, 1, 3, "gentle_truth"),  # care reshapes the truth
    ("careful-teller", BLUNT_FIRST, 1, 0, "blunt_truth"),   # adult: plain truth
    ("careful-teller", LIE_FIRST, 1, 3, "gentle_truth"),    # honesty at root rules out the white lie
    ("empty", LIE_FIRST, 1, 3, "lie"),
    ("empty", BLUNT_FIRST, 1, 4, "blunt_truth"),
])
def test_choice_by_spec(library, spec: str, ranking: tuple, sensitive: int, belief: int, chosen: str) -> None:
    d = Binding(library.get(spec)).decide(ToothFairyObs(sensitive, belief), ACTS, ranking)
    assert ACTS[d.act].name == chosen


@pytest.mark.parametrize("child_share,spoils", [(0.0, False), (0.8, True)])
def test_spoiled_needs_children(child_share: float, spoils: bool) -> None:
    m = run("tooth-fairy", seed=1, set={"steps": 5, "environment.child_share": child_share}).metrics
    assert (m["spoiled"] > 0) is spoils
    assert m["lies"] >= 0


def test_accurate_prior_spoils_less_than_a_wrong_one() -> None:
    def spoiled(prior: float) -> float:
        return sum(run("tooth-fairy", seed=s, set={"steps": 10, "environment.child_share": 0.6,
                                                  "environment.prior": prior}).metrics["spoiled"] for s in (1, 2))
    assert spoiled(0.6) < spoiled(0.05)


@pytest.mark.parametrize("seed", [2, 5])
def test_tooth_fairy_kept_pair_rows_equal_rows_looked_up_each_step(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rewiring cuts ties and lays the pair table out anew (align): the kept rows must follow.
    from scenarios.tooth_fairy import ToothFairy
    from sim.runs.run import run_model
    from tests.test_fused import _same

    overrides = {"steps": 15, "network.rewire": {"every": 3, "below": 0.45}}
    kept = run_model("tooth-fairy", seed=seed, set=overrides)
    real = ToothFairy._pair_rows

    def fresh(self: ToothFairy, model: Any, asker: np.ndarray, agent: np.ndarray) -> np.ndarray:
        self._rows = None
        return real(self, model, asker, agent)

    monkeypatch.setattr(ToothFairy, "_pair_rows", fresh)
    looked_up = run_model("tooth-fairy", seed=seed, set=overrides)
    assert kept.pairs.moved > 0 and np.nansum(kept.series["rewired"]) > 0
    _same(kept, looked_up)
