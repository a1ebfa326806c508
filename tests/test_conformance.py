"""Every shipped environment and policy passes the conformance kit users run on their own."""

from __future__ import annotations

import pytest

import scenarios  # noqa: F401
from agents.checks import CHECKS, check
from agents.policies import POLICIES, RankingPolicy
from scenarios.environment import ENVIRONMENTS
from sim.scenario import load_scenario, scenario_ids
from sim.testing import check_check, check_environment, check_metric, check_policy


def _scenario_for(env: str) -> str | None:
    for sid in scenario_ids():
        sc = load_scenario(sid)
        if sc.environment == env and all(g.policy != "llm" for g in sc.groups):
            return sc.text
    return None


@pytest.mark.parametrize("env", sorted(ENVIRONMENTS))
def test_environment_conformance(env: str) -> None:
    check_environment(ENVIRONMENTS[env], _scenario_for(env), steps=6)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policy_conformance(name: str) -> None:
    if name == "llm":
        pytest.skip("the llm policy has no rank() (a BatchPolicy); tests/test_llm*.py cover it")
    check_policy(POLICIES[name])


def test_conformance_catches_a_nondeterministic_policy() -> None:
    class Flaky(RankingPolicy):
        name = "flaky-test"
        calls = 0

        def rank(self, obs, acts):
            Flaky.calls += 1
            return (Flaky.calls % len(acts),)

    POLICIES["flaky-test"] = Flaky
    try:
        with pytest.raises(AssertionError, match="pure function"):
            check_policy(Flaky(), ENVIRONMENTS["ipd"])
    finally:
        del POLICIES["flaky-test"]


@pytest.mark.parametrize("name", sorted(n for n, c in CHECKS.items() if set(c.params) <= set(c.optional)))
def test_check_conformance(name: str) -> None:
    check_check(name)


def test_conformance_catches_a_check_that_raises_where_it_does_not_apply() -> None:
    @check("reads-a-missing-field-test")
    def bad(obs, act):
        return obs.no_such_field > 0

    try:
        with pytest.raises(AssertionError, match="return None when the principle does not apply"):
            check_check("reads-a-missing-field-test")
    finally:
        del CHECKS["reads-a-missing-field-test"]


def test_an_engine_metric_is_the_same_fused_and_stepped() -> None:
    check_metric("gini")
