"""The public-goods fast-forward (``scenarios.public_goods_kernel``) against stepping.

Differential: each case runs the scenario fused and stepwise (the generic path,
``Environment.fast_forward``) and compares everything a run reports
(``tests.test_fused._same``: series and their order, final metrics with the
learners' learned preferences, payoffs, pair memory, events, Mesa's clock, the
packaged result), plus the learners' propensities, the trust each agent reads
and the learners' stream. Each fused case asserts that its rounds were really
fused, so none passes vacuously.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scenarios
from scenarios import public_goods_kernel
from scenarios.environment import Environment
from scenarios.public_goods import PublicGoods
from sim import cell_memo, decisions
from sim.model import SpecModel
from sim.runs.run import run_model
from sim.scenario import load_scenario_text
from tests.test_fused import _same, count_stretches

FAST_FORWARD = PublicGoods.fast_forward
SHIPPED = Path(scenarios.__file__).parent / "public-goods.toml"


def _sized(n: int, steps: int = 12) -> dict[str, Any]:
    """The shipped 2:1:1 mix of keepers, free riders and learning pledge breakers, ``n`` agents."""
    return {"groups.keepers.count": n // 2, "groups.free_riders.count": n // 4,
            "groups.breakers.count": n - n // 2 - n // 4, "steps": steps}


def _run(fuse: bool, monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any],
         scenario: Any = "public-goods") -> tuple[Any, int]:
    monkeypatch.setattr(PublicGoods, "fast_forward", FAST_FORWARD if fuse else Environment.fast_forward)
    return count_stretches(public_goods_kernel, lambda: run_model(scenario, seed=seed, set=overrides),
                           monkeypatch)


def _stepped(monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any]) -> tuple[Any, int]:
    """The stepwise run, with the rounds its environment stepped one by one counted."""
    calls = [0]
    real = PublicGoods.step

    def counting(env: PublicGoods, model: Any) -> None:
        calls[0] += 1
        real(env, model)

    with monkeypatch.context() as m:
        m.setattr(PublicGoods, "step", counting)
        slow, _ = _run(False, m, seed, overrides)
    return slow, calls[0]


def _cold(monkeypatch: pytest.MonkeyPatch) -> None:
    """No table or cell an earlier run of the process kept: every cell is computed as met."""
    monkeypatch.setattr(cell_memo, "TABLES", cell_memo.TableMemo())
    monkeypatch.setattr(decisions, "TABLES", cell_memo.TableMemo())
    monkeypatch.setattr(cell_memo, "MEMO", cell_memo.CellMemo())
    monkeypatch.setattr(decisions, "MEMO", cell_memo.MEMO)


def _learned(model: Any) -> list[np.ndarray]:
    if model.learning is None:
        return []
    return [a for gl in model.learning.groups.values() for _, st in sorted(gl.state.items())
            for _, a in sorted(st.items())]


def _same_run(slow: Any, fast: Any) -> None:
    _same(slow, fast)
    a, b = _learned(slow), _learned(fast)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(slow.env.last_share, fast.env.last_share)
    np.testing.assert_array_equal(slow.env.punished, fast.env.punished)
    if slow.learning is not None:
        assert slow.learning.rng.bit_generator.state == fast.learning.rng.bit_generator.state
    # Mesa's clock and every stream: a step after the run is the next step, once, alike.
    slow.step()
    fast.step()
    assert fast.steps == fast.time == slow.steps
    _same(slow, fast)


@pytest.mark.parametrize(("overrides", "seed"), [
    (_sized(200), 0), (_sized(200), 1), (_sized(333, 9), 2), (_sized(120, 20), 3),
    ({**_sized(200), "environment.sanctions": False}, 4),
    ({**_sized(160), "environment.lie_penalty": 0.5, "environment.fine": 2.5, "environment.punish_cost": 0.7,
      "environment.r": 1.7}, 5),
    ({**_sized(150), "groups.breakers.params.forgetting": 0.0, "groups.breakers.params.experimentation": 0.0,
      "groups.breakers.params.reference": 0.5}, 6),
    ({**_sized(150), "groups.breakers.params.observe": "trust,punished"}, 7),
    ({**_sized(150), "groups.breakers.params.observe": ""}, 8),
    ({**_sized(180), "groups.breakers.count": 0}, 9),  # no learner at all
    ({**_sized(180), "network.degree": 7}, 10),
    ({**_sized(180), "network.kind": "erdos_renyi", "network.p": 0.004}, 11),  # lone agents: no neighbour
])
def test_fused_equals_stepwise(overrides: dict[str, Any], seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    slow, stepped = _stepped(monkeypatch, seed, overrides)
    fast, played = _run(True, monkeypatch, seed, overrides)
    assert stepped == slow.steps  # the reference really stepped every round
    assert played >= fast.steps - 2
    _same_run(slow, fast)


def test_cold_tables_fill_and_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first run of a population: rounds stop at keys without cells (both phases), the table
    is filled as ``decide`` fills it and the round is replayed with the learners' draws given
    back; the cells, and so the outcome ids, are stepping's."""
    _cold(monkeypatch)
    slow, _ = _run(False, monkeypatch, 12, _sized(140))
    _cold(monkeypatch)
    fast, played = _run(True, monkeypatch, 12, _sized(140))
    assert played == fast.steps
    assert fast.decisions.n_cells == slow.decisions.n_cells
    _same_run(slow, fast)


def test_overridden_learners(monkeypatch: pytest.MonkeyPatch) -> None:
    """Learners under a spec that forbids breaking a pledge: their favourites are overridden,
    counted per principle and drawn again within the tier, step by step."""
    over = {**_sized(160), "groups.breakers.spec": "platform"}
    slow, _ = _run(False, monkeypatch, 13, over)
    fast, played = _run(True, monkeypatch, 13, over)
    assert played == fast.steps
    assert fast.final_metrics()["overrides"] > 0
    _same_run(slow, fast)


def test_rounds_without_a_broken_pledge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped 24 agents over 40 rounds: breakers learn to stop breaking pledges, and a round
    with sanctions and no breaker counts no ``punishments`` (absent, not 0): a stretch ends where
    that changes, and its rounds count them or not as stepping's do."""
    slow, _ = _run(False, monkeypatch, 0, {})
    fast, played = _run(True, monkeypatch, 0, {})
    pts = np.array(fast.series["punishments"])
    assert np.isnan(pts).any() and not np.isnan(pts).all()
    assert played >= fast.steps - 8
    _same_run(slow, fast)


def test_per_agent_records_when_not_summarised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SpecModel, "summarisable", property(lambda self: False))
    slow, _ = _run(False, monkeypatch, 14, _sized(100))
    fast, played = _run(True, monkeypatch, 14, _sized(100))
    assert played == fast.steps
    _same_run(slow, fast)


def test_short_stretches(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round a stretch (a record budget of a byte): each starts from the last one's state."""
    monkeypatch.setattr(public_goods_kernel, "RECORD_BUDGET", 1)
    slow, _ = _run(False, monkeypatch, 15, _sized(90, 10))
    fast, played = _run(True, monkeypatch, 15, _sized(90, 10))
    assert played == fast.steps
    _same_run(slow, fast)


EVENTS = """
[[events]]
at = 4
type = "join"
group = "keepers"
count = 9

[[events]]
at = 6
type = "shock"
set = { r = 1.4, fine = 2.0 }

[[events]]
at = 8
type = "instruct"
to = "free_riders"
source = "user"
text = "Fine every pledge breaker."
check = "punishes_breakers"

[[events]]
at = 13
type = "leave"
to = "keepers"
count = 3
"""


def test_events_split_stretches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Newcomers with drawn thresholds (new deciders), a shock of the game's parameters, an
    instruction that rebinds a group, and a departure (everyone alive no more: stepped after)."""
    sc = load_scenario_text(SHIPPED.read_text() + EVENTS, source="pg-events.toml")
    over = {**_sized(140), "steps": 16}
    slow, _ = _run(False, monkeypatch, 16, over, sc)
    fast, played = _run(True, monkeypatch, 16, over, sc)
    _same_run(slow, fast)
    assert 5 <= played <= 12
    assert len(fast.alive) == 149 and not fast.alive.all()


def test_conflicts_are_stepped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outcomes that log a conflict (faked on both paths alike) stop a stretch; the learners'
    draws of the round not played are given back, so the stepped round draws what it would."""
    real = decisions.DecisionTable.outcome_column

    def column(table: Any, name: str) -> np.ndarray:
        col = real(table, name)
        if name != "nconf":
            return col
        fake = col.copy()
        fake[16:17] = 1  # a rare outcome (ids as a cold run numbers them)
        return fake

    monkeypatch.setattr(decisions.DecisionTable, "outcome_column", column)
    _cold(monkeypatch)
    slow, _ = _run(False, monkeypatch, 17, _sized(60, 20))
    _cold(monkeypatch)
    fast, played = _run(True, monkeypatch, 17, _sized(60, 20))
    assert 0 < played < fast.steps
    _same_run(slow, fast)


def test_other_learners_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Learners the loop does not mirror (Q-learning breakers) leave every round to stepping."""
    over = {**_sized(100), "groups.breakers.policy": "q_learning",
            "groups.breakers.params": {"observe": "punished"}}
    slow, _ = _run(False, monkeypatch, 18, over)
    fast, played = _run(True, monkeypatch, 18, over)
    assert played == 0
    _same_run(slow, fast)


def test_pair_rows_made_at_build_are_round_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """``PublicGoods.setup`` makes the half-edges' pair rows with the model; a model built without
    them (as before) makes them in round one: the same rows, the same run."""
    made = SpecModel(load_scenario_text(SHIPPED.read_text(), source="pg.toml"), seed=19)
    assert len(made.pairs) == 2 * len(made.edges)
    monkeypatch.setattr(PublicGoods, "fast_forward", Environment.fast_forward)
    with_rows = run_model("public-goods", seed=19, set=_sized(120))
    monkeypatch.setattr(PublicGoods, "can_fast_forward", lambda self, model: False)
    without = run_model("public-goods", seed=19, set=_sized(120))
    _same_run(without, with_rows)
