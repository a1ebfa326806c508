"""The public-goods-fg fast-forward (``scenarios.public_goods_fg_kernel``) against stepping.

Differential: each case runs the scenario fused and stepwise (the generic path)
and compares everything a run reports (``tests.test_fused._same``): series,
final metrics, payoffs, events, Mesa's clock, the packaged result. Each fused
case asserts that its steps were really fused. Drawn populations of a few
hundred agents, several seeds: fast tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import scenarios
from agents.acts import Act
from agents.checks import CHECKS, check
from scenarios import public_goods_fg_kernel
from scenarios.environment import Environment
from scenarios.public_goods_fg import PublicGoodsFG
from sim import cell_memo, decisions
from sim.model import SpecModel
from sim.runs.run import run_model
from sim.scenario import load_scenario_text
from tests.test_fused import _same, count_stretches

FAST_FORWARD = PublicGoodsFG.fast_forward


def _sized(n: int, steps: int = 10) -> dict[str, Any]:
    """The shipped 3:1 mix of conditional cooperators and free riders, ``n`` agents."""
    return {"groups.cooperators.count": n - n // 4, "groups.free_riders.count": n // 4, "steps": steps}


def _run(fuse: bool, monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any],
         scenario: Any = "public-goods-fg") -> tuple[Any, int]:
    monkeypatch.setattr(PublicGoodsFG, "fast_forward", FAST_FORWARD if fuse else Environment.fast_forward)
    return count_stretches(public_goods_fg_kernel, lambda: run_model(scenario, seed=seed, set=overrides),
                           monkeypatch)


def _both_with(snippet: str, source: str, overrides: dict[str, Any], seed: int,
               monkeypatch: pytest.MonkeyPatch) -> tuple[Any, int]:
    """The shipped scenario with ``snippet`` appended, stepped and fused: the two runs must
    agree; the fused model and its fused steps."""
    path = Path(scenarios.__file__).parent / "public-goods-fg.toml"
    sc = load_scenario_text(path.read_text() + snippet, source=source)
    slow, _ = _run(False, monkeypatch, seed, overrides, sc)
    fast, played = _run(True, monkeypatch, seed, overrides, sc)
    _same(slow, fast)
    return fast, played


@pytest.mark.parametrize(("overrides", "seed"), [
    ({}, 0), ({}, 1), ({}, 2),
    (_sized(200), 0), (_sized(200), 5),
    ({**_sized(200), "environment.punishment": False}, 3),
    ({**_sized(150), "environment.fine": 2.0, "environment.punish_cost": 0.5}, 4),
    ({**_sized(203), "environment.group_size": 3}, 6),  # one smaller group
    ({**_sized(120), "environment.group_size": 6, "environment.mpcr": 0.3}, 7),
])
def test_fused_equals_stepwise(overrides: dict[str, Any], seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    slow, none = _run(False, monkeypatch, seed, overrides)
    fast, played = _run(True, monkeypatch, seed, overrides)
    assert none == 0
    assert played == fast.steps
    _same(slow, fast)
    np.testing.assert_array_equal(slow.env.own, fast.env.own)
    np.testing.assert_array_equal(slow.env.fined, fast.env.fined)
    np.testing.assert_array_equal(slow.env.watched, fast.env.watched)
    assert slow.env.shares == fast.env.shares
    # Mesa's clock: a step after the run is the next step, once, and the coins' stream agrees.
    slow.step()
    fast.step()
    assert fast.steps == fast.time == slow.steps
    _same(slow, fast)


def test_warm_tables_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose table starts from an earlier run's (``DecisionTable.warm_families``), with other
    draws (another seed), equals stepping with cold tables and no remembered family cells."""
    over = _sized(160)
    warmed: list[bool] = []
    real = decisions.DecisionTable.warm_families

    def spy(table: Any) -> bool:
        warmed.append(real(table))
        return warmed[-1]

    monkeypatch.setattr(decisions.DecisionTable, "warm_families", spy)
    fast, played = _run(True, monkeypatch, 11, over)
    warmed.clear()
    again, _ = _run(True, monkeypatch, 12, over)  # warm: the families' table of seed 11
    assert played == fast.steps
    assert warmed[0]
    monkeypatch.setattr(cell_memo, "TABLES", cell_memo.TableMemo())
    monkeypatch.setattr(decisions, "TABLES", cell_memo.TableMemo())
    monkeypatch.setattr(decisions, "FAMILY_CELLS", cell_memo.FamilyMemo())
    slow, _ = _run(False, monkeypatch, 12, over)
    _same(slow, again)


def test_per_agent_records_when_not_summarised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SpecModel, "summarisable", property(lambda self: False))
    slow, _ = _run(False, monkeypatch, 8, _sized(100))
    fast, played = _run(True, monkeypatch, 8, _sized(100))
    assert played == fast.steps
    _same(slow, fast)


def test_stranger_design_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """New groups every round draw from the environment's stream in the step: not fused."""
    over = {**_sized(100), "environment.design": "stranger"}
    slow, _ = _run(False, monkeypatch, 9, over)
    fast, played = _run(True, monkeypatch, 9, over)
    assert played == 0
    _same(slow, fast)


def test_punishment_counters_vanish_without_punishment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counters come from the loop: fines are three times the points with punishment, and
    absent (no counter at all, as stepping) without it."""
    on, _ = _run(True, monkeypatch, 0, _sized(200))
    off, _ = _run(True, monkeypatch, 0, {**_sized(200), "environment.punishment": False})
    pts = np.array(on.series["punishment_points"])
    assert pts.sum() > 0
    np.testing.assert_array_equal(np.array(on.series["fines"]), 3.0 * pts)
    assert "punishment_points" not in off.series


EVENTS = """
[[events]]
at = 4
type = "join"
group = "free_riders"
count = 7

[[events]]
at = 7
type = "instruct"
to = "cooperators"
source = "user"
text = "Never fine anyone."
check = "no_peer_fines"

[[events]]
at = 12
type = "leave"
to = "cooperators"
count = 3
"""


def test_events_split_stretches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Newcomers (new groups, new deciders, families extended), an instruction that rebinds a
    group (new families), and a departure (everyone alive no more: stepped from there)."""
    fast, played = _both_with(EVENTS, "pgfg-events.toml", {**_sized(120), "steps": 16}, 2, monkeypatch)
    # Fused between the events (the engine steps an event's step and the next), stepped after
    # the leave.
    assert 5 <= played <= 12
    assert len(fast.alive) == 127 and not fast.alive.all()


def test_short_stretches(monkeypatch: pytest.MonkeyPatch) -> None:
    """One round a stretch (a record budget of a byte): every stretch starts from the last one's state."""
    monkeypatch.setattr(public_goods_fg_kernel, "RECORD_BUDGET", 1)
    slow, _ = _run(False, monkeypatch, 4, _sized(80, 12))
    fast, played = _run(True, monkeypatch, 4, _sized(80, 12))
    assert played == fast.steps
    _same(slow, fast)


def test_conflicts_are_stepped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outcomes that log a conflict (faked on both paths alike) stop a stretch; the coins drawn
    ahead for the rounds not played are put back, so the stepped rounds draw what they would."""
    real = decisions.DecisionTable.outcome_column

    def column(table: Any, name: str) -> np.ndarray:
        col = real(table, name)
        if name != "nconf":
            return col
        fake = col.copy()
        fake[97::97] = 1
        return fake

    monkeypatch.setattr(decisions.DecisionTable, "outcome_column", column)
    # Cold tables and records: the outcome ids (so the faked ones) as a first run numbers them.
    monkeypatch.setattr(decisions, "TABLES", cell_memo.TableMemo())
    monkeypatch.setattr(decisions, "FAMILY_CELLS", cell_memo.FamilyMemo())
    slow, _ = _run(False, monkeypatch, 5, _sized(24, 20))
    fast, played = _run(True, monkeypatch, 5, _sized(24, 20))
    assert 0 < played < fast.steps
    _same(slow, fast)


def test_loop_wants_what_rank_batch_wants() -> None:
    """The loop's contribution arithmetic against ``ConditionalContributor.rank_batch`` on drawn
    parameters and observations, the rounding's ties and the first round included."""
    from agents.policies.contributors import ConditionalContributor
    from scenarios.public_goods_fg import GIVE

    rng = np.random.default_rng(3)
    m = 4000
    own = rng.integers(-1, 21, m)
    own[:50] = -1
    others, fined = rng.integers(0, 21, m), rng.integers(0, 13, m)
    watched, coin = rng.integers(0, 2, m), rng.integers(0, 16, m)
    par = {"baseline": rng.random(m), "slope": rng.choice([0.0, 0.5, 0.85, 1.0], m),
           "weight": rng.choice([0.0, 0.25, 0.5, rng.random()], m), "fine_response": rng.choice([0.0, 1.0, 2.5], m),
           "deterrence": rng.choice([0.0, 0.1], m), "severity": np.zeros(m)}
    zeros = np.zeros(m, np.int64)
    pp = public_goods_fg_kernel.People(own, others, fined, watched, par["baseline"], par["slope"], par["weight"],
                                       par["fine_response"], par["deterrence"], par["severity"], zeros, zeros,
                                       zeros, zeros, zeros, zeros, np.zeros(m), np.zeros(m), np.zeros(m), np.zeros(m))
    for sanctions in (0, 1):
        obs = {"own": own, "others": others, "fined": fined, "watched": watched,
               "sanctions": np.full(m, sanctions), "shortfall": zeros, "coin": coin}
        want, _ = ConditionalContributor.rank_batch(par, obs, GIVE)
        got = [public_goods_fg_kernel._want_give(pp, a, int(coin[a]), sanctions) for a in range(m)]
        np.testing.assert_array_equal(np.array(got), want)


def test_a_block_of_coins_is_the_rounds_coins() -> None:
    """The loop draws a stretch's coins as one (rounds, agents) block: the same values and the
    same generator state as one call per round, for any number of agents."""
    from agents.policies import COIN_SIDES

    for seed in range(2):
        for n in (1, 2, 3, 7, 24, 999, 1000):
            for k in (1, 2, 5):
                a, b = np.random.default_rng(seed), np.random.default_rng(seed)
                rounds = np.stack([a.integers(0, COIN_SIDES, n) for _ in range(k)])
                np.testing.assert_array_equal(b.integers(0, COIN_SIDES, (k, n)), rounds)
                assert a.bit_generator.state == b.bit_generator.state


READS_COIN = """
[[events]]
at = 2
type = "instruct"
to = "cooperators"
source = "user"
text = "Give three quarters or more on an odd coin."
check = "pgfg_test_odd_coin_gives"
"""


def test_contributions_reading_varying_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """A family whose contribution cells read a field that varies by agent and round (here the
    coin) is looked up per decision, not memoised by (family, wanted contribution)."""

    @check("pgfg_test_odd_coin_gives")
    def odd_coin_gives(obs: Any, act: Act) -> bool | None:
        if act.gives is None:
            return None
        return not (act.gives < 0.75 and obs.coin % 2 == 1)

    try:
        fast, played = _both_with(READS_COIN, "pgfg-reads-coin.toml", {**_sized(160), "steps": 12}, 3, monkeypatch)
        assert played >= 6
        families = fast.decisions.batch_families(np.zeros(0, np.int64))[1]
        reads = {i for fam in families for index, _ in fam.read_sets for i in index}
        assert public_goods_fg_kernel.OBS_FIELDS.index("coin") in reads
    finally:
        CHECKS.pop("pgfg_test_odd_coin_gives", None)


@pytest.mark.parametrize("rows", [
    np.random.default_rng(0).random((6, 1000)) * 300,                        # spread
    np.round(np.random.default_rng(1).random((7, 513)) * 40) / 2 - 3,       # ties, negatives
    np.array([[-0.0, 0.0, 1.0, -0.0, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0]]),    # signed zeros, one value
    np.array([[5e-324, 0.0, 1e300, np.inf, 7.0]]),                          # subnormal, huge, infinite
    np.concatenate([np.random.default_rng(3).random((2, 999)), [[1e9], [1e9]]], axis=1),  # clumped: sorted
    np.random.default_rng(2).standard_normal((3, 2000)) * 1e10,
    np.zeros((3, 1)),
    np.zeros((2, 0)),
    np.array([[1.0, np.nan, 0.5], [0.0, 1.0, 2.0]]),                        # a NaN: numpy's sort
])
def test_gini_rows_equals_gini_chunk(rows: np.ndarray) -> None:
    from scenarios.kernel_sums import gini_chunk
    from scenarios.public_goods_fg_kernel import gini_rows

    want, got = np.empty(len(rows)), np.empty(len(rows))
    gini_chunk(rows.copy(), np.empty(len(rows)), want)
    gini_rows(rows.copy(), got)
    assert want.tobytes() == got.tobytes()
