"""Conformance kit: checks users run on their own environments and policies.

In the manner of PettingZoo's ``api_test``: ``check_environment`` and
``check_policy`` raise ``AssertionError`` with a message naming what is wrong.
Every shipped environment and policy passes them in the test suite.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np

from agents.acts import Act, ActSpace
from agents.checks import CHECKS, evaluate
from agents.policies import POLICIES, Policy
from scenarios.environment import Environment


def _minimal_scenario(env_cls: type[Environment], policy: str = "cooperator", n: int = 6,
                      steps: int = 5, spec: str = "platform") -> str:
    return f"""
[scenario]
id = "conformance-{env_cls.name}"
environment = "{env_cls.name}"
steps = {steps}
[network]
kind = "complete"
[groups.a]
count = {n // 2}
policy = "{policy}"
spec = "{spec}"
[groups.b]
count = {n - n // 2}
policy = "{policy}"
spec = "empty"
"""


def _spaces(env: Environment) -> tuple[ActSpace, ...]:
    return tuple(getattr(env, "phases", (env.acts,)))


def sample_observations(env: Environment, limit: int = 400) -> list[Any]:
    """Observations across the code space: the first, the last and a seeded sample."""
    space = env.codec.space
    rng = np.random.default_rng(0)
    codes = {0, space - 1} | {int(c) for c in rng.integers(0, space, min(limit, space))}
    return [env.codec.decode(c) for c in sorted(codes)]


def check_environment(env_cls: type[Environment], scenario_text: str | None = None,
                      seeds: tuple[int, ...] = (1, 2), steps: int | None = None) -> None:
    """Check an environment class: act space, observations, checks, welfare bounds, seeding.

    Args:
        env_cls: the registered environment class.
        scenario_text: a small scenario using it (default: six agents on a complete graph).
        seeds: two different seeds for the determinism and seeding checks.
        steps: run this many steps instead of the scenario's own.
    """
    from sim.model import SpecModel
    from sim.runs.run import result_of
    from sim.scenario import load_scenario_text

    name = env_cls.__name__
    assert env_cls.name, f"{name}: not registered with @environment"
    assert dataclasses.is_dataclass(env_cls.Params), f"{name}.Params must be a dataclass"
    assert env_cls.Params.__dataclass_params__.frozen, f"{name}.Params must be frozen"  # type: ignore[attr-defined]
    assert len(env_cls.cardinality) == len(env_cls.Obs._fields), f"{name}: one cardinality per Obs field"
    text = scenario_text or _minimal_scenario(env_cls)
    sc = load_scenario_text(text, overrides={"steps": steps} if steps else None)
    model = SpecModel(sc, seed=seeds[0])
    env = model.env
    for space in _spaces(env):
        assert isinstance(space, ActSpace) and len(space) >= 2, f"{name}: an act space needs at least two acts"
        assert all(isinstance(a, Act) for a in space), f"{name}: acts must be Act values"
    obs_list = sample_observations(env)
    for obs in obs_list:
        code = int(env.codec.encode(**obs._asdict()))
        assert env.codec.decode(code) == obs, f"{name}: observation codes do not round-trip"
        assert isinstance(env.render(obs), str)
    for check_name in env_cls.checks:
        assert check_name in CHECKS, f"{name}: declares unregistered check {check_name!r}"
    for check_name, info in CHECKS.items():
        if info.params and not set(info.params) <= set(info.optional):
            continue  # needs parameters only a spec can give
        for obs, space in itertools.product(obs_list[:50], _spaces(env)):
            for act in space:
                try:
                    v = evaluate(check_name, (), obs, act)
                except Exception as e:  # a check must never raise
                    raise AssertionError(f"check {check_name!r} raised {e!r} on {act.name} in {name}") from e
                assert v in (True, False, None), f"check {check_name!r} returned {v!r}"
    before = _states(model)
    model.run(sc.steps)
    series = model.series
    assert "welfare" in series, f"{name}: no welfare recorded"
    eff = [x for x in series.get("efficiency", []) if x == x]
    assert all(-1e-9 <= x <= 1 + 1e-9 for x in eff) or not eff, (
        f"{name}: efficiency outside [0, 1] with cooperative policies: {eff[:5]}")
    base, opt = model.env.bounds
    assert opt >= base, f"{name}: welfare optimum {opt} below baseline {base}"
    first = result_of(model).to_json()
    again = SpecModel(load_scenario_text(text, overrides={"steps": steps} if steps else None), seed=seeds[0])
    again.run(sc.steps)
    assert result_of(again).to_json() == first, f"{name}: not deterministic for a fixed seed"
    final = model.final_metrics()
    for metric in env_cls.metric_names():
        assert metric in series or metric in final, f"{name}: metric {metric!r} never reported"
    other = SpecModel(load_scenario_text(text, overrides={"steps": steps} if steps else None), seed=seeds[1])
    other.run(sc.steps)
    if env_uses_randomness(model, before):
        assert result_of(other).to_json()["metrics"] != first["metrics"], (
            f"{name}: seeds {seeds[0]} and {seeds[1]} gave identical results; is the seed used?")


def _states(model: Any) -> list[Any]:
    return [g.bit_generator.state for g in (model.rng_match, model.rng_decide, model.rng_env, model.rng_detect)]


def env_uses_randomness(model: Any, before: list[Any]) -> bool:
    """Whether a run drew from its random streams or built a random graph (then seeds must matter)."""
    random_graph = model.spec_scenario.network["kind"] not in ("complete", "none", "edgelist")
    return random_graph or _states(model) != before


def check_policy(policy: type[Policy] | Policy, env_cls: type[Environment] | None = None) -> None:
    """Check a policy: registered, ranks valid act indices, a pure function of the observation."""
    from scenarios.environment import ENVIRONMENTS
    from sim.model import SpecModel
    from sim.scenario import load_scenario_text

    pol = policy() if isinstance(policy, type) else policy
    assert pol.name in POLICIES, f"{type(pol).__name__}: not registered with @policy"
    envs = [env_cls] if env_cls is not None else list(ENVIRONMENTS.values())
    for cls in envs:
        try:
            model = SpecModel(load_scenario_text(_minimal_scenario(cls, "cooperator")), seed=0)
        except Exception:  # the environment needs a richer scenario; its own tests cover it
            continue
        for space in _spaces(model.env):
            for obs in sample_observations(model.env, limit=200):
                ranking = tuple(pol.rank(obs, space))
                assert ranking, f"{pol.name}: empty ranking in {cls.name}"
                assert all(isinstance(a, int) and 0 <= a < len(space) for a in ranking), (
                    f"{pol.name}: ranking {ranking} has an index outside the act space of {cls.name}")
                assert len(set(ranking)) == len(ranking), f"{pol.name}: ranking repeats an act"
                assert tuple(pol.rank(obs, space)) == ranking, f"{pol.name}: not a pure function of obs"
