"""Fast-forwarded IPD steps (scenarios/ipd_kernel.py) give exactly what stepping one at a time gives.

Each case runs a scenario twice, fused and not, and compares everything a
run reports: every series value and its column order, final metrics,
payoffs, pair memory, conflict and script events, and Mesa's clock. Each
case also asserts that steps really were fused, so none passes vacuously.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import scenarios
from agents.checks import CHECKS, check
from scenarios import ipd_kernel
from scenarios.environment import Environment
from scenarios.ipd import IPD
from sim.runs.run import result_of, run_model
from sim.scenario import load_scenario, load_scenario_text
from tests.test_readset_runs import wary  # noqa: F401  (fixture: a spec whose check reads trust)

CLASSIC = load_scenario("ipd-classic")
FAST_FORWARD = IPD.fast_forward
GROUPS = [g.name for g in CLASSIC.groups]


def _copies(n: int) -> dict[str, Any]:
    return {f"groups.{g}.count": n for g in GROUPS}


def _text(extra: str, steps: int = 40, spec: str = "empty") -> str:
    groups = "\n".join(
        f'[groups.{p}]\ncount = 2\npolicy = "{p}"\nspec = "{spec}"\n'
        for p in ("tit_for_tat", "defector", "grudger", "alternator"))
    return (f'[scenario]\nid = "fused-case"\nenvironment = "ipd"\nsteps = {steps}\n\n'
            f'[network]\nkind = "complete"\n\n{groups}\n{extra}')


def count_stretches(kernel: Any, run: Callable[[], Any], monkeypatch: pytest.MonkeyPatch,
                    entry: str = "fast_forward") -> tuple[Any, int]:
    """``run()`` with ``kernel.<entry>`` (``fast_forward(env, model, limit)`` or the like) counted:
    its result and the steps stretches played (the kernel tests assert steps were really fused)."""
    played = [0]
    real = getattr(kernel, entry)

    def counting(env: Any, model: Any, limit: int, *joined: Any) -> Any:
        stretch = real(env, model, limit, *joined)
        played[0] += 0 if stretch is None else stretch.steps
        return stretch

    with monkeypatch.context() as m:
        m.setattr(kernel, entry, counting)
        out = run()
    return out, played[0]


def count_warms(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """``DecisionTable.warm`` wrapped for the rest of the test: what each call returned
    (the kept-table tests assert a run really started from a kept table)."""
    from sim.decisions import DecisionTable

    warmed: list[bool] = []
    real = DecisionTable.warm

    def warm(self: DecisionTable, sparse: bool = False) -> bool:
        warmed.append(real(self, sparse))
        return warmed[-1]

    monkeypatch.setattr(DecisionTable, "warm", warm)
    return warmed


def _run(scenario: Any, fuse: bool, monkeypatch: pytest.MonkeyPatch, seed: int = 3,
         overrides: dict[str, Any] | None = None) -> tuple[Any, int]:
    monkeypatch.setattr(IPD, "fast_forward", FAST_FORWARD if fuse else Environment.fast_forward)
    return count_stretches(ipd_kernel, lambda: run_model(scenario, seed=seed, set=overrides), monkeypatch)


def _same(a: Any, b: Any) -> None:
    assert list(a.series) == list(b.series)
    for name in a.series:
        np.testing.assert_array_equal(np.array(a.series[name]), np.array(b.series[name]), err_msg=name)
    fa, fb = a.final_metrics(), b.final_metrics()
    assert list(fa) == list(fb)
    for name in fa:
        assert fa[name] == fb[name] or (fa[name] != fa[name] and fb[name] != fb[name]), name
    np.testing.assert_array_equal(a.payoff, b.payoff)
    for col in a.pairs.cols:
        np.testing.assert_array_equal(a.pairs[col], b.pairs[col], err_msg=col)
    assert a.conflict_rows() == b.conflict_rows()
    assert a.script_rows() == b.script_rows()
    assert (a.steps, a.time) == (b.steps, b.time)
    assert len(a.agents) == len(b.agents)
    assert a.last_metrics.keys() == b.last_metrics.keys()
    ra, rb = result_of(a), result_of(b)
    assert ra.to_json() == rb.to_json()


@pytest.mark.parametrize(("overrides", "seed"), [
    ({}, 0),
    ({**_copies(3), "steps": 80}, 5),
    ({**_copies(2), "network.kind": "random_regular", "network.degree": 4, "steps": 60}, 2),
    ({"environment.R": 2.5, "environment.T": 4.25, "environment.P": 0.75, "steps": 50}, 1),
])
def test_classic_fused_equals_stepwise(overrides, seed, monkeypatch):
    slow, none = _run("ipd-classic", False, monkeypatch, seed, overrides)
    fast, played = _run("ipd-classic", True, monkeypatch, seed, overrides)
    assert none == 0
    assert played > 0.5 * fast.steps
    _same(slow, fast)
    # Mesa's schedule is where its clock says: a step after the run is the next step, once.
    slow.step()
    fast.step()
    assert fast.steps == fast.time == slow.steps
    _same(slow, fast)


def test_events_split_stretches(monkeypatch):
    extra = """
[[events]]
at = 9
type = "instruct"
to = "defector"
source = "user"
text = "cooperate"
check = "cooperates"

[[events]]
at = 15
type = "join"
group = "tit_for_tat"
count = 2

[[events]]
at = 31
type = "leave"
to = "alternator"
count = 1
"""
    sc = load_scenario_text(_text(extra), source="fused-case.toml")
    slow, _ = _run(sc, False, monkeypatch)
    fast, played = _run(sc, True, monkeypatch)
    # Fused before the leave (everyone alive), stepwise after it.
    assert 10 <= played <= 30
    _same(slow, fast)


def _defects(obs: Any, act: Any) -> bool | None:
    """The act defects, once the partner has defected (a test-only instruction)."""
    return None if obs.partner_last != 0 else not act.cooperative


@pytest.fixture
def retaliate_check():
    # Registered for these tests only: the conformance tests try every check on every environment.
    check("fused_test_defects")(_defects)
    yield
    CHECKS.pop("fused_test_defects", None)


def _retaliating() -> str:
    """Script events: developer says cooperate (step 2), user says retaliate (step 4)."""
    return """
[[events]]
at = 2
type = "instruct"
to = "tit_for_tat"
source = "developer"
text = "cooperate"
check = "cooperates"

[[events]]
at = 4
type = "instruct"
to = "tit_for_tat"
source = "user"
text = "retaliate"
check = "fused_test_defects"
"""


@pytest.mark.usefixtures("retaliate_check")
@pytest.mark.parametrize("seed", [3, 4])
def test_conflict_steps_fall_back(seed, monkeypatch):
    # The developer says cooperate, the user says retaliate: conflicts on some steps only.
    extra = _retaliating()
    sc = load_scenario_text(_text(extra, steps=30), source="fused-case.toml")
    slow, _ = _run(sc, False, monkeypatch, seed)
    fast, played = _run(sc, True, monkeypatch, seed)
    assert slow.final_metrics()["conflicts"] > 0
    assert played > 0
    _same(slow, fast)


@pytest.mark.parametrize("override", [
    {"environment.noise": 0.05},
    {"groups.defector.deliberation": 0.5},
    {"groups.defector.error_rate": 0.1},
    {"groups.defector.policy": "random"},
])
def test_random_runs_are_not_fused(override, monkeypatch):
    model, played = _run("ipd-classic", True, monkeypatch, 1, {**override, "steps": 20})
    assert played == 0
    assert not model.env.can_fast_forward(model)


@pytest.mark.parametrize(("overrides", "headroom"), [({}, 256), ({}, 0), ({**_copies(3), "steps": 60}, 1)])
def test_keys_found_mid_stretch(overrides, headroom, wary, monkeypatch):  # noqa: F811
    # Cooperating needs trust (the `wary` spec), and trust drifts through its buckets, so new
    # keys keep turning up inside stretches; with no headroom for their outcomes a stretch
    # must end early and still book what it played.
    monkeypatch.setattr(ipd_kernel, "OUTCOME_HEADROOM", headroom)
    sc = wary(overrides)
    slow, _ = _run(sc, False, monkeypatch, 2)
    fast, played = _run(sc, True, monkeypatch, 2)
    assert played > 0
    _same(slow, fast)


def test_without_numba_every_step_is_generic(monkeypatch):
    import sys

    slow, _ = _run("ipd-classic", False, monkeypatch, 0, {"steps": 20})
    monkeypatch.setattr(IPD, "fast_forward", FAST_FORWARD)
    # The kernel's import fails as if numba had no build for this platform.
    monkeypatch.setitem(sys.modules, "numba", None)
    # Kernels decorate through agents.jit, which imports numba: without numba it cannot load.
    monkeypatch.delitem(sys.modules, "agents.jit")
    monkeypatch.delitem(sys.modules, "scenarios.ipd_kernel")
    monkeypatch.delattr(scenarios, "ipd_kernel")
    model = run_model("ipd-classic", seed=0, set={"steps": 20})
    assert model.env.fast_forward(model, 10) is None
    _same(slow, model)


def test_a_leaver_leaves_mesa_agents(monkeypatch):
    extra = """
[[events]]
at = 5
type = "leave"
to = "alternator"
count = 2
"""
    model = run_model(load_scenario_text(_text(extra, steps=8), source="fused-case.toml"), seed=1)
    assert len(model.agents) == len(model.handles) - 2
    assert {a.index for a in model.handles if a not in model.agents} == set(np.flatnonzero(~model.alive))


def test_the_kernel_encodes_the_ipd_observation_layout():
    # The loop builds codes field by field by position: a reordered Obs must fail loudly.
    assert IPD.Obs._fields == ipd_kernel.OBS_FIELDS
    assert [ipd_kernel.OBS_FIELDS[i] for i in (ipd_kernel.TRUST, ipd_kernel.COIN)] == ["trust", "coin"]
