"""Conformance kit: checks users run on their own environments, policies, checks and metrics.

In the manner of PettingZoo's ``api_test``: ``check_environment``,
``check_policy``, ``check_check`` and ``check_metric`` raise ``AssertionError``
with a message naming what is wrong; ``check_plugin`` runs the right one on
everything a plugin registers (``specbound check MODULE``). Every shipped
environment, policy and check passes them in the test suite. Nothing is
skipped quietly: an environment the kit cannot build a run of is a failure.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np

from agents.acts import Act, ActSpace
from agents.checks import CHECKS, evaluate
from agents.policies import POLICIES, BatchPolicy, Policy
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
    return tuple(env.phases)


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
    try:
        sc = load_scenario_text(text, overrides={"steps": steps} if steps else None)
        model = SpecModel(sc, seed=seeds[0])
    except Exception as e:  # never a skip: a user's environment the kit cannot run is a failure
        raise AssertionError(f"{name}: cannot build a run of it ({type(e).__name__}: {e})") from None
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


def scenario_for(env_cls: type[Environment]) -> str:
    """A small scenario of the environment: a shipped one without language models, else six agents."""
    from sim.scenario import load_scenario, scenario_ids

    for sid in scenario_ids():
        sc = load_scenario(sid)
        if sc.environment == env_cls.name and all(g.policy != "llm" for g in sc.groups):
            return sc.text
    return _minimal_scenario(env_cls)


def build_model(env_cls: type[Environment], seed: int = 0, steps: int | None = None) -> Any:
    """A small model of the environment; AssertionError (never a skip) when none can be built."""
    from sim.model import SpecModel
    from sim.scenario import load_scenario_text

    overrides = {"steps": steps} if steps else None
    try:  # six agents first (cheap); the environment's own scenario when it needs more
        return SpecModel(load_scenario_text(_minimal_scenario(env_cls), overrides=overrides), seed=seed)
    except Exception:
        pass
    try:
        return SpecModel(load_scenario_text(scenario_for(env_cls), overrides=overrides), seed=seed)
    except Exception as e:
        raise AssertionError(f"environment {env_cls.name!r}: cannot build a run of it "
                             f"({type(e).__name__}: {e}); give it a shipped scenario or defaults "
                             "that six agents on a complete graph can play") from None


def check_policy(policy: type[Policy] | Policy, env_cls: type[Environment] | None = None) -> None:
    """Check a policy: registered, ranks valid act indices, a pure function of the observation.

    A batch policy (``BatchPolicy``: a language model) has no ranking to check; only its
    registration is.
    """
    from scenarios.environment import ENVIRONMENTS

    pol = policy() if isinstance(policy, type) else policy
    assert pol.name in POLICIES, f"{type(pol).__name__}: not registered with @policy"
    if isinstance(pol, BatchPolicy):
        return
    rank = pol.rank  # type: ignore[attr-defined]
    envs = [env_cls] if env_cls is not None else list(ENVIRONMENTS.values())
    for cls in envs:
        model = build_model(cls)
        for space in _spaces(model.env):
            for obs in sample_observations(model.env, limit=200):
                ranking = tuple(rank(obs, space))
                assert ranking, f"{pol.name}: empty ranking in {cls.name}"
                assert all(isinstance(a, int) and 0 <= a < len(space) for a in ranking), (
                    f"{pol.name}: ranking {ranking} has an index outside the act space of {cls.name}")
                assert len(set(ranking)) == len(ranking), f"{pol.name}: ranking repeats an act"
                assert tuple(rank(obs, space)) == ranking, f"{pol.name}: not a pure function of obs"


def check_check(name: str, params: dict[str, Any] | None = None) -> None:
    """Check a check on every environment's observations and acts.

    It returns True, False or None; gives the same answer twice; and says when it
    does not apply (returns None) instead of raising on an observation without
    the fields it reads. ``params``: values for the parameters it needs.
    """
    from scenarios.environment import ENVIRONMENTS

    assert name in CHECKS, f"check {name!r}: not registered with @check"
    info = CHECKS[name]
    frozen = tuple(sorted((params or {}).items()))
    needed = set(info.params) - set(info.optional) - set(params or {})
    assert not needed, f"check {name!r}: give values for its parameters {sorted(needed)} to check it"
    for cls in ENVIRONMENTS.values():
        model = build_model(cls)
        for obs, space in itertools.product(sample_observations(model.env, limit=60), _spaces(model.env)):
            for act in space:
                try:
                    v = evaluate(name, frozen, obs, act)
                except Exception as e:
                    raise AssertionError(
                        f"check {name!r} raised {type(e).__name__}: {e} on act {act.name!r} in {cls.name!r}; "
                        "return None when the principle does not apply") from None
                assert v in (True, False, None), f"check {name!r} returned {v!r} (allowed: True, False, None)"
                assert evaluate(name, frozen, obs, act) == v, f"check {name!r}: not a pure function"


def check_metric(name: str, steps: int = 8) -> None:
    """Check a registered metric on every environment that supplies it (all, for an engine metric).

    Its series has one value per step and the same values for the same seed;
    in the IPD, a run with fused steps gives the same series as stepping one at a time.
    """
    from scenarios.environment import ENVIRONMENTS
    from scenarios.metric_registry import METRICS

    assert name in METRICS, f"metric {name!r}: not registered"
    m = METRICS[name]
    envs = [ENVIRONMENTS[e] for e in m.environments if e in ENVIRONMENTS] or list(ENVIRONMENTS.values())
    for cls in envs:
        runs = []
        for fuse in (True, False):
            model = build_model(cls, seed=1, steps=steps)
            model.may_fast_forward = fuse
            model.run(steps)
            runs.append(model)
        a, b = runs
        if m.per_step and m.step is not None and not m.family:
            got = a.series.get(name)
            if got is None:
                continue  # the step function said it does not apply here (returned None)
            assert len(got) == steps, f"metric {name!r}: {len(got)} values in {steps} steps of {cls.name!r}"
            assert all(isinstance(x, float) for x in got), f"metric {name!r}: values must be floats"
            same = b.series.get(name)
            assert same is not None and np.array_equal(np.asarray(got), np.asarray(same), equal_nan=True), (
                f"metric {name!r}: fused and stepped runs of {cls.name!r} differ")
        final = a.final_metrics()
        if m.aggregate not in ("series",) and not m.family and (m.step is not None or m.final is not None):
            assert name in final, f"metric {name!r}: no final value in {cls.name!r}"
            assert isinstance(final[name], float), f"metric {name!r}: final value must be a float"
        again = build_model(cls, seed=1, steps=steps)
        again.run(steps)
        assert _nan_equal(again.final_metrics().get(name), final.get(name)), (
            f"metric {name!r}: not deterministic for a fixed seed in {cls.name!r}")


def _nan_equal(x: Any, y: Any) -> bool:
    return x == y or (isinstance(x, float) and isinstance(y, float) and x != x and y != y)


def check_plugin(registered: dict[str, tuple[str, ...]]) -> list[tuple[str, str, str | None]]:
    """Run the kit on what a plugin registered: (kind, name, problem or None) per item."""
    from scenarios.environment import ENVIRONMENTS

    jobs: list[tuple[str, str, Any]] = []
    jobs += [("environment", n, lambda n=n: check_environment(ENVIRONMENTS[n], scenario_for(ENVIRONMENTS[n]),
                                                              steps=6))
             for n in registered.get("environments", ())]
    jobs += [("policy", n, lambda n=n: check_policy(POLICIES[n])) for n in registered.get("policies", ())]
    jobs += [("check", n, lambda n=n: check_check(n)) for n in registered.get("checks", ())]
    jobs += [("metric", n, lambda n=n: check_metric(n)) for n in registered.get("metrics", ())]
    out: list[tuple[str, str, str | None]] = []
    for kind, name, job in jobs:
        try:
            job()
            out.append((kind, name, None))
        except AssertionError as e:
            out.append((kind, name, str(e).splitlines()[0] if str(e) else "failed"))
        except Exception as e:  # the plugin's code raised: a failure too, in one line
            out.append((kind, name, f"{type(e).__name__}: {e}"))
    return out
