"""Pair-class stretches leave their write-back to the pair table deferred (``PairTable.defer``):
runs equal those that write back at once, and any read of the columns in between makes the
write first, so the next stretch sees what was read or written."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from agents.trust import PairTable
from scenarios import ipd_agents, ipd_classes
from sim import decisions
from sim.cell_memo import CellMemo, TableMemo
from tests.test_fused import _run, _same
from tests.test_ipd_classes import NETWORK

RESUME, DEFER = ipd_classes.resume, PairTable.defer


class _Owner:
    def __init__(self) -> None:
        self.calls = 0

    def write_back(self, cols: dict[str, np.ndarray]) -> None:
        self.calls += 1
        cols["kept"][:] = 7.0


def _table() -> PairTable:
    table = PairTable()
    table.index(np.array([0, 1]), np.array([1, 0]))
    return table


def test_the_write_is_made_once_when_the_columns_are_read() -> None:
    table, owner = _table(), _Owner()
    table.defer(owner)
    assert table.deferred() is owner and owner.calls == 0
    assert table.cols["kept"].tolist() == [7.0, 7.0]
    assert table.deferred() is None
    table.trust(slice(0, 2))
    assert owner.calls == 1


def test_a_taken_write_is_not_made_and_a_copy_carries_the_written_columns() -> None:
    table, owner = _table(), _Owner()
    table.defer(owner)
    table.take_deferred()
    assert table.cols["kept"].tolist() == [0.0, 0.0] and owner.calls == 0
    table.defer(owner)
    copy = pickle.loads(pickle.dumps(table))
    assert copy.deferred() is None and copy.cols["kept"].tolist() == [7.0, 7.0]


def _played(monkeypatch: pytest.MonkeyPatch, defer: bool, poke: str, seed: int) -> tuple[Any, int]:
    """A model played 2 + 5 + 5 + 3 steps (a stretch each); (the model, stretches resumed).

    ``defer`` False writes every stretch back at once; between the first two runs ``poke``
    "read" reads the columns, "write" changes a pair row's evidence through them."""
    monkeypatch.setattr(decisions, "MEMO", CellMemo())
    monkeypatch.setattr(decisions, "TABLES", TableMemo())
    monkeypatch.setattr(ipd_agents, "MAX_PROFILE_SHARE", 1.0)
    monkeypatch.setattr(PairTable, "defer", DEFER if defer else lambda self, owner: owner.write_back(self.cols))
    resumed = [0]

    def counting(*args: Any) -> Any:
        got = RESUME(*args)
        resumed[0] += got is not None
        return got

    monkeypatch.setattr(ipd_classes, "resume", counting)
    model, _ = _run("trust-network", True, monkeypatch, seed, {**NETWORK, "environment.detect_prob": 1.0,
                                                                 "steps": 2})
    if poke:
        model.pairs.cols["kept"][3] += 2.0 if poke == "write" else 0.0
        assert model.pairs.deferred() is None
    for steps in (5, 5, 3):
        model.run(steps)
    assert model.steps == 15
    return model, resumed[0]


@pytest.mark.parametrize("seed", [0, 2])
def test_deferred_write_backs_equal_immediate_ones(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    now, resumed_now = _played(monkeypatch, False, "", seed)
    later, resumed_later = _played(monkeypatch, True, "", seed)
    _same(now, later)
    for name in ipd_classes.COLUMNS:
        np.testing.assert_array_equal(now.pairs.cols[name], later.pairs.cols[name], err_msg=name)
    assert (resumed_now, resumed_later) == (0, 3)  # every later stretch took the last one's over


@pytest.mark.parametrize(("poke", "resumes"), [("read", 2), ("write", 0)])
def test_what_is_read_or_written_between_runs_reaches_the_next_stretch(poke: str, resumes: int,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    now, _ = _played(monkeypatch, False, poke, 0)
    later, resumed = _played(monkeypatch, True, poke, 0)
    _same(now, later)
    # A read makes the next stretch lay its classes out afresh (the later ones resume); a row
    # written apart from its class leaves the rest of the run to the per-row loop.
    assert resumed == resumes
    untouched, _ = _played(monkeypatch, True, "", 0)
    same = np.array_equal(untouched.pairs.cols["kept"], later.pairs.cols["kept"])
    # Had the next stretch played the memory from before the write, it would not show.
    assert same == (poke == "read")
