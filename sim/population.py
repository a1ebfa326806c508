"""Heterogeneous populations: a group's policy parameters drawn per agent.

A parameter given as a table with a ``dist`` key is drawn for each agent of
the group from a seeded distribution instead of being one value for all::

    params = { lie_propensity = { dist = "beta", a = 2, b = 5 } }
    params = { threshold = { dist = "uniform", low = 0.2, high = 0.8 } }
    params = { risk = { dist = "normal", mean = 0.5, sd = 0.2, low = 0, high = 1 } }

``normal`` is clipped to ``[low, high]`` when given. Draws are rounded to
``digits`` decimals (default 2) so that agents with equal draws share one
policy object and hence one decision table: a group of 100,000 agents has at
most a few hundred distinct policies, not 100,000. Draws come from the
model's own population stream, so the same seed gives the same population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.errors import ScenarioError

#: Keys each distribution takes (required, then optional).
DISTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "beta": (("a", "b"), ("digits",)),
    "uniform": (("low", "high"), ("digits",)),
    "normal": (("mean", "sd"), ("low", "high", "digits")),
}


@dataclass(frozen=True, slots=True)
class Draw:
    """One parameter's distribution across a group's agents."""

    dist: str
    args: tuple[tuple[str, float], ...]
    digits: int = 2

    def arg(self, name: str, default: float | None = None) -> float | None:
        return dict(self.args).get(name, default)

    def typical(self) -> float:
        """A value inside the support, used to validate the policy's parameter types at load time."""
        a = dict(self.args)
        if self.dist == "beta":
            return round(a["a"] / (a["a"] + a["b"]), self.digits)
        if self.dist == "uniform":
            return round((a["low"] + a["high"]) / 2, self.digits)
        return round(float(np.clip(a["mean"], a.get("low", -np.inf), a.get("high", np.inf))), self.digits)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        a = dict(self.args)
        if self.dist == "beta":
            x = rng.beta(a["a"], a["b"], n)
        elif self.dist == "uniform":
            x = rng.uniform(a["low"], a["high"], n)
        else:
            x = np.clip(rng.normal(a["mean"], a["sd"], n), a.get("low", -np.inf), a.get("high", np.inf))
        return np.round(x, self.digits)


def parse_draw(value: Any, where: str) -> Draw | None:
    """The distribution a parameter value asks for, or None for a plain value; one-line errors."""
    if not (isinstance(value, dict) and "dist" in value):
        return None
    dist = value["dist"]
    if dist not in DISTS:
        raise ScenarioError(f"{where}.dist: unknown distribution {dist!r}; allowed: {', '.join(sorted(DISTS))}")
    need, opt = DISTS[dist]
    unknown = sorted(set(value) - {"dist", *need, *opt})
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r} for dist {dist!r}; "
                            f"allowed: {', '.join((*need, *opt))}")
    for k in need:
        if k not in value:
            raise ScenarioError(f"{where}: dist {dist!r} needs {k!r}")
    args: dict[str, float] = {}
    for k, v in value.items():
        if k == "dist":
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ScenarioError(f"{where}.{k} must be a number, got {v!r}")
        args[k] = float(v)
    digits = int(args.pop("digits", 2))
    if not 0 <= digits <= 6:
        raise ScenarioError(f"{where}.digits must be between 0 and 6, got {digits}")
    if dist == "beta" and not (args["a"] > 0 and args["b"] > 0):
        raise ScenarioError(f"{where}: beta needs a > 0 and b > 0, got a={args['a']}, b={args['b']}")
    if dist == "uniform" and not args["high"] >= args["low"]:
        raise ScenarioError(f"{where}: uniform needs high >= low, got {args['low']}..{args['high']}")
    if dist == "normal":
        if not args["sd"] >= 0:
            raise ScenarioError(f"{where}.sd must not be negative, got {args['sd']}")
        if "low" in args and "high" in args and not args["high"] >= args["low"]:
            raise ScenarioError(f"{where}: normal needs high >= low, got {args['low']}..{args['high']}")
    return Draw(dist, tuple(sorted(args.items())), digits)


def draws_of(params: dict[str, Any], where: str) -> dict[str, Draw]:
    """The parameters of a group drawn per agent, validated."""
    out = {}
    for k, v in params.items():
        d = parse_draw(v, f"{where}.{k}")
        if d is not None:
            out[k] = d
    return out


def typical_params(params: dict[str, Any], where: str) -> dict[str, Any]:
    """``params`` with each drawn parameter replaced by a typical value (for load-time checks)."""
    draws = draws_of(params, where)
    return {k: (draws[k].typical() if k in draws else v) for k, v in params.items()}


def draw_population(params: dict[str, Any], n: int, rng: np.random.Generator,
                    where: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Per-agent parameters: (the distinct parameter sets, the index of each agent's set).

    Parameters are drawn in sorted name order, one array per parameter, so
    adding agents to a group leaves the first agents' draws unchanged only for
    the same count (the draws are a function of seed and count).
    """
    draws = draws_of(params, where)
    if not draws:
        return [dict(params)], np.zeros(n, dtype=np.int64)
    names = sorted(draws)
    cols = [draws[k].sample(rng, n) for k in names]
    keys = list(zip(*(c.tolist() for c in cols), strict=True)) if n else []
    distinct = sorted(set(keys))
    index = {k: i for i, k in enumerate(distinct)}
    sets = [{**params, **dict(zip(names, k, strict=True))} for k in distinct]
    return sets, np.array([index[k] for k in keys], dtype=np.int64)

