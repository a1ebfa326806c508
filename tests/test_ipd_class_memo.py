"""Class and profile layouts kept across stretches (``memo`` of ``scenarios.ipd_classes`` /
``scenarios.ipd_agents``) give exactly what laying them out afresh gives.

A model plays several ``run()`` calls (each a stretch, as the scaling bench times them)
twice: with the model's memo, and with it emptied before every stretch. Everything the
runs report and the pair table must be equal, and the memo must really have been used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scenarios import ipd_agents, ipd_classes, ipd_kernel
from sim import decisions
from sim.cell_memo import CellMemo, TableMemo
from tests.test_fused import _run, _same
from tests.test_ipd_classes import NETWORK

#: The kernel's own, taken before any test replaces it.
CLASSES = ipd_kernel._classes
HASHES = ipd_agents._hashes


def _runs(monkeypatch: pytest.MonkeyPatch, reuse: bool, overrides: dict[str, Any], seed: int) -> tuple[Any, int]:
    """A model played 2 + 5 + 5 + 3 steps; (the model, stretches whose profiles were hashed afresh)."""
    monkeypatch.setattr(decisions, "MEMO", CellMemo())
    monkeypatch.setattr(decisions, "TABLES", TableMemo())

    def fresh(env: Any, *args: Any) -> Any:
        env.class_memo.clear()
        return CLASSES(env, *args)

    monkeypatch.setattr(ipd_kernel, "_classes", CLASSES if reuse else fresh)
    hashed = [0]

    def counting(*args: Any) -> Any:
        hashed[0] += 1
        return HASHES(*args)

    monkeypatch.setattr(ipd_agents, "_hashes", counting)
    model, _ = _run("trust-network", True, monkeypatch, seed, {**overrides, "steps": 2})
    for steps in (5, 5, 3):
        model.run(steps)
    assert model.steps == 15
    return model, hashed[0]


@pytest.mark.parametrize(("overrides", "seed", "laid_out"), [
    ({**NETWORK, "environment.detect_prob": 1.0}, 0, 4),
    ({**NETWORK, "network.kind": "random_regular", "network.degree": 3}, 3, 4),
    # A betrayal in the first stretch hands the rest of the run to the rows: one layout only.
    ({**NETWORK, "groups.opportunists.spec": "empty", "environment.detect_prob": 0.5}, 4, 1),
])
def test_reused_layouts_equal_fresh_ones(overrides, seed, laid_out, monkeypatch):
    monkeypatch.setattr(ipd_agents, "MAX_PROFILE_SHARE", 1.0)
    fresh, hashed_fresh = _runs(monkeypatch, False, overrides, seed)
    kept, hashed_kept = _runs(monkeypatch, True, overrides, seed)
    _same(fresh, kept)
    for name in ipd_classes.COLUMNS:
        np.testing.assert_array_equal(fresh.pairs.cols[name], kept.pairs.cols[name], err_msg=name)
    # Laid out once with the memo, at every stretch that plays by classes without it.
    assert (hashed_fresh, hashed_kept) == (laid_out, 1)


def test_a_kept_layout_still_checks_memory_and_state(monkeypatch):
    e = 2
    dec = np.array([0, 0, 1, 1])  # edges (0,1) and (2,3) of deciders 0 and 1: one class each side
    cols = {name: np.zeros(2 * e, np.int64 if name == "turns" else np.float64) for name in ipd_classes.COLUMNS}
    memo: dict[str, Any] = {}
    first = ipd_classes.pair_classes(cols, dec, e, memo)
    again = ipd_classes.pair_classes(cols, dec.copy(), e, memo)
    assert first is not None and again is not None and again.of_row is first.of_row
    assert first.mult.tolist() == [2, 2]
    cols["kept"][1] = 2.0  # row 1 apart from its representative, row 0
    assert ipd_classes.pair_classes(cols, dec.copy(), e, memo) is None
    assert ipd_classes.pair_classes(cols, dec, e) is None
    other = ipd_classes.pair_classes(cols, np.array([0, 1, 1, 0]), e, memo)  # new deciders: laid out afresh
    assert other is not None and other.of_row is not first.of_row

    agent, partner = np.array([0, 2, 1, 3]), np.array([1, 3, 0, 2])
    state = tuple(np.zeros(4) for _ in range(4))
    groups = np.zeros(4, np.int64)
    ag_memo: dict[str, Any] = {}
    monkeypatch.setattr(ipd_agents, "MAX_PROFILE_SHARE", 1.0)
    made = ipd_agents.agent_classes(first.of_row, agent, partner, 4, state, groups, ag_memo)
    kept = ipd_agents.agent_classes(first.of_row, agent, partner, 4, state, groups, ag_memo)
    assert made is not None and kept is not None and kept.code is made.code
    assert kept.payoff is not made.payoff  # state is the stretch's own
    # Agents 0 and 2 of one profile, 1 and 3 of another; agents 2 and 3 move to group 1: laid out afresh.
    moved = np.array([0, 0, 1, 1])
    regrouped = ipd_agents.agent_classes(first.of_row, agent, partner, 4, state, moved, ag_memo)
    assert regrouped is not None and regrouped.code is not made.code
    assert regrouped.group[regrouped.prof.astype(np.int64)].tolist() == moved.tolist()
    assert len(regrouped.members) == 4
    state[0][2] = 1.0  # agent 2 has earned more than agent 0, of its profile
    assert ipd_agents.agent_classes(first.of_row, agent, partner, 4, state, groups, ag_memo) is None
    assert ipd_agents.agent_classes(first.of_row, agent, partner, 4, state, groups) is None
