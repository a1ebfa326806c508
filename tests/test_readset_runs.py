"""Read-set memoisation in whole runs: decision cells shared between codes agreeing on the
fields their decision read (``sim.decisions.DecisionTable``).

The memo must be invisible: every run gives the same results with it on and off.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agents.llm  # noqa: F401  (registers the llm policy)
from agents.acts import Act, ActSpace
from agents.checks import CHECKS, check
from agents.policies import COOPERATED, POLICIES, RankingPolicy, policy
from agents.readset import unwrap
from scenarios.environment import Environment
from scenarios.ipd import IPD
from sim import decisions
from sim.cell_memo import CellMemo, TableMemo
from sim.model import SpecModel
from sim.runs.run import result_of, run_model
from sim.scenario import SCENARIO_DIR, load_scenario, load_scenario_text
from tests.llm_server import serve
from tests.same_runs import RULE_BASED, assert_same_result

#: Shipped scenarios that need no language-model server.


@contextmanager
def memo_reads(on: bool) -> Iterator[None]:
    """Models built inside the block share cells (on), or not: every decision counts as having
    read every field, so each observation code gets a cell of its own. Each block has its own
    memo of cells and tables across runs (``sim.cell_memo``): neither way reuses the other's cells."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(decisions, "MEMO", CellMemo())
        mp.setattr(decisions, "TABLES", TableMemo())
        if not on:
            mp.setattr(decisions, "fields_read", lambda obs: frozenset(unwrap(obs)._fields))
        yield


def both_ways(scenario: Any, seed: int, overrides: dict[str, Any] | None = None,
              steps: int | None = None) -> tuple[SpecModel, SpecModel]:
    """The same run with the memo on and off."""
    models = []
    for on in (True, False):
        with memo_reads(on):
            models.append(run_model(scenario, seed=seed, set=overrides, steps=steps))
    return models[0], models[1]


def assert_same_results(on: SpecModel, off: SpecModel) -> None:
    assert_same_result(result_of(on), result_of(off))
    assert np.array_equal(on.payoff, off.payoff)
    assert on.decisions.n_cells <= off.decisions.n_cells


# --- whole runs: the memo changes nothing -----------------------------------------------------


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("scenario", RULE_BASED)
def test_shipped_scenarios_give_identical_results_with_and_without_the_memo(
    scenario: str, seed: int
) -> None:
    assert_same_results(*both_ways(scenario, seed))


def test_the_memo_shares_cells_in_the_round_robin() -> None:
    on, off = both_ways("ipd-classic", 0)
    assert on.decisions.n_cells < off.decisions.n_cells / 5
    # The speed of the 12-strategy tournament rests on this: 36 cells (711 without the memo).
    assert on.decisions.n_cells <= 40


@pytest.mark.parametrize("scenario", ["ipd-classic", "negotiation-honest-first"])
def test_the_sparse_table_path_shares_cells_too(scenario: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Populations too large for the dense table keep cells in a dict: the memo works there too.
    _, dense_off = both_ways(scenario, 4, steps=40)
    monkeypatch.setattr(decisions, "DENSE_TABLE_LIMIT", 0)
    sparse_on, _ = both_ways(scenario, 4, steps=40)
    assert not sparse_on.decisions.fits_dense() and sparse_on.decisions.dense(0) is None
    assert_same_results(sparse_on, dense_off)


@settings(max_examples=10, deadline=None)
@given(
    scenario=st.sampled_from(["trust-network", "negotiation-confidential-first", "public-goods",
                              "ipd-classic", "spec-incident", "injection"]),
    seed=st.integers(0, 2**16),
    deliberation=st.sampled_from([1.0, 0.5, 0.0]),
    error_rate=st.sampled_from([0.0, 0.1]),
)
def test_memo_is_invisible_under_fast_decisions_and_slips(
    scenario: str, seed: int, deliberation: float, error_rate: float
) -> None:
    groups = load_scenario(scenario).groups
    overrides: dict[str, Any] = {f"groups.{groups[0].name}.deliberation": deliberation,
                                 f"groups.{groups[-1].name}.error_rate": error_rate}
    assert_same_results(*both_ways(scenario, seed, overrides, steps=30))


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**16), p=st.sampled_from([0.25, 0.5, 0.9]))
def test_memo_is_invisible_with_coins_noise_and_promises(seed: int, p: float) -> None:
    overrides = {"groups.cooperator.policy": "random", "groups.cooperator.params": {"p": p},
                 "groups.defector.policy": "reciprocal", "environment.noise": 0.05,
                 "environment.promises": True}
    assert_same_results(*both_ways("ipd-classic", seed, overrides, steps=30))


# --- a policy that reads more in one branch -----------------------------------------------------

BRANCHY = "readset_test_branchy"


@pytest.fixture
def branchy() -> Iterator[str]:
    """A policy reading ``trust`` (and ``coin``) only after the partner cooperated."""

    @policy(BRANCHY)
    class Branchy(RankingPolicy):
        def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
            return (1, 0) if self.defects(obs) else (0, 1)

        @staticmethod
        def defects(obs: Any) -> bool:
            if obs.partner_last != COOPERATED:
                return False
            return obs.trust < 10 or obs.coin % 3 == 0

    yield BRANCHY
    del POLICIES[BRANCHY]


def test_a_field_read_in_one_branch_is_not_shared_across_it(branchy: str) -> None:
    model = run_model("ipd-classic", seed=0, steps=1,
                      set={"groups.cooperator.policy": branchy, "groups.cooperator.count": 2})
    me = int(np.flatnonzero(model.group_of == model.group_index("cooperator"))[0])
    codec = model.env.codec
    codes = np.arange(codec.space, dtype=np.int64)
    # Every observation in one call, cheap branch and expensive one mixed in code order.
    chosen = model.decide(np.full(len(codes), me), codes)
    pol = model.policy_of(me)
    expected = [1 if pol.defects(codec.decode(int(c))) else 0 for c in codes]
    assert chosen.tolist() == expected
    # Three read-sets: partner_last alone (no cooperation), plus trust (low trust decides),
    # plus coin (high trust: the coin decides).
    read_sets = model.decisions.read_sets(int(model.decider_of[0][me]))
    assert sorted(len(index) for index in read_sets) == [1, 2, 3]


def test_a_custom_policy_run_is_identical_with_and_without_the_memo(branchy: str) -> None:
    overrides = {"groups.tit_for_tat.policy": branchy, "groups.cooperator.policy": "random"}
    assert_same_results(*both_ways("ipd-classic", 5, overrides, steps=60))


# --- a check that reads a field for one act only ------------------------------------------------

WARY = "readset_test_wary"
WARY_SPEC = f"""
[spec]
id = "wary"
version = "1"
description = "Cooperates only with partners it trusts."

[[principles]]
id = "wary"
level = "system"
text = "Cooperate only with a partner you trust."
check = "{WARY}"
"""


@pytest.fixture
def wary(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """ipd-classic (with overrides) with every group bound by one spec whose check reads
    ``trust`` for C only."""
    # Step one at a time: these tests are about the decision tables, not fused stretches.
    monkeypatch.setattr(IPD, "fast_forward", Environment.fast_forward)

    @check(WARY)
    def trusted(obs: Any, act: Act) -> bool | None:
        return True if not act.cooperative else getattr(obs, "trust", 10) >= 10

    text = (SCENARIO_DIR / "ipd-classic.toml").read_text().replace('spec = "empty"', 'spec = "wary"')
    yield lambda overrides=None: load_scenario_text(text, {"wary": WARY_SPEC}, overrides)
    del CHECKS[WARY]


def test_reads_made_only_by_the_resolver_count(wary: Any) -> None:
    # When C is chosen, only the resolver reads `trust` (the outcome of D reads nothing),
    # and most deciders share one binding, so most such reads are memo hits to replay.
    on, off = both_ways(wary(), 1)
    assert_same_results(on, off)
    # The check bites: the cooperator defects against partners it distrusts.
    plain = result_of(run_model("ipd-classic", seed=1)).metrics["payoff.cooperator"]
    assert result_of(on).metrics["payoff.cooperator"] != plain


# --- a language-model group among rule-based ones -----------------------------------------------


def test_rule_based_groups_beside_a_language_model_group_are_unchanged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wary: Any
) -> None:
    # The model's group keeps its own path (no proxy, no read-sets) while sharing the other
    # groups' binding and so the resolver's memo. (Memo entries made without a proxy and
    # hit with one: test_readset.py::test_entry_made_without_a_proxy_still_reports_its_reads.)
    scenario = wary({"groups.cooperator.policy": "llm",
                     "groups.cooperator.llm": {"model": "deceptive"}})
    server = serve(monkeypatch, tmp_path / "xdg")
    next(server)
    try:
        on, off = both_ways(scenario, 2, steps=4)
    finally:
        server.close()
    a, b = result_of(on).to_json(), result_of(off).to_json()
    for run in (a, b):  # the second run is served from the cache: only its usage differs
        run["metrics"] = {k: v for k, v in run["metrics"].items() if not k.startswith("llm.")}
    assert a == b
