"""IPD stretches booked as one block (``IPD.books_in_blocks``) book what the general path books.

The IPD kernel's summarised stretches opt in to ``sim.summary_book``; each such stretch
is booked both ways from the same state and compared bit for bit (``tests.test_summary_book``),
and whole runs are compared with runs whose blocks are all refused (the general path).
"""

from __future__ import annotations

from typing import Any

import pytest

from sim import summary_book
from sim.runs.run import run_model
from sim.series import Series
from tests.test_fused import _same
from tests.test_summary_book import _both_ways

#: Principles that bind some players (conflicts logged, compliance columns).
BOUND = {"groups.bully.spec": "never-defect-first", "groups.defector.spec": "asimov"}
TRIPLE = {f"groups.{g}.count": 3 for g in ("alternator", "bully", "grudger", "tit_for_tat")}


@pytest.mark.parametrize(("ref", "overrides", "seed"), [
    ("ipd-classic", {}, 0),
    ("ipd-classic", {**TRIPLE, "steps": 60}, 1),
    ("ipd-classic", {"environment.R": 4, "environment.T": 6}, 2),
    ("ipd-classic", BOUND, 3),
    ("ipd-classic", {**TRIPLE, "network.kind": "random_regular", "network.degree": 4, "steps": 80}, 4),
])
def test_ipd_block_booking_equals_general(ref: str, overrides: dict[str, Any], seed: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    booked = _both_ways(monkeypatch)
    model = run_model(ref, seed=seed, set=overrides)
    assert booked and sum(booked) <= model.steps


@pytest.mark.parametrize(("ref", "overrides", "seed"), [
    ("ipd-classic", TRIPLE, 5),
    ("ipd-classic", BOUND, 6),
])
def test_ipd_whole_runs_equal(ref: str, overrides: dict[str, Any], seed: int,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    blocks: list[bool] = []
    real = summary_book.book

    def counted(model: Any, rec: Any) -> bool:
        blocks.append(real(model, rec))
        return blocks[-1]

    with monkeypatch.context() as m:
        m.setattr(summary_book, "book", counted)
        fast = run_model(ref, seed=seed, set=overrides)
    with monkeypatch.context() as m:
        m.setattr(summary_book, "book", lambda model, rec: False)
        slow = run_model(ref, seed=seed, set=overrides)
    assert any(blocks)  # the counterfactual run really took the other path
    _same(slow, fast)
    assert isinstance(fast.series, Series)
