"""The policy interface and registry: how an agent ranks its candidate acts.

A policy proposes; the spec disposes. ``rank(obs, acts)`` returns act indices,
most preferred first; the resolver then picks the act that best satisfies the
agent's principles and instructions, ties broken by this ranking.

Rule-based policies are pure functions of the observation, which is what lets
the engine memoise decisions per observation key. Randomness enters through
``obs.coin`` (a uniform draw in 0..15 made by the engine), never inside a policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from agents.acts import ActSpace
from agents.errors import SpecboundError

#: Pair-history codes shared by the pairwise environments and the strategies.
NONE, DEFECTED, COOPERATED = -1, 0, 1
#: Sides of the engine's coin (``obs.coin`` in 0..15) and trust resolution (twentieths).
COIN_SIDES = 16
TRUST_BUCKETS = 20


class Policy:
    """Base class. Subclasses set ``name`` (by the decorator) and implement ``rank``."""

    name: ClassVar[str] = ""
    memoisable: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    params: ClassVar[dict[str, type | tuple[type, ...]]] = {}

    def __init__(self, **params: Any) -> None:
        self.kwargs = dict(params)

    @property
    def key(self) -> tuple:
        return (self.name, tuple(sorted(self.kwargs.items())))

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        raise NotImplementedError


POLICIES: dict[str, type[Policy]] = {}


def policy(name: str) -> Callable[[type[Policy]], type[Policy]]:
    """Register a policy class under ``name``."""

    def register(cls: type[Policy]) -> type[Policy]:
        cls.name = name
        POLICIES[name] = cls
        return cls

    return register


def make_policy(name: str, params: dict[str, Any] | None = None, where: str = "policy") -> Policy:
    """Build a registered policy, validating its parameters (one-line errors)."""
    cls = POLICIES.get(name)
    if cls is None:
        raise SpecboundError(
            f"{where}: unknown policy {name!r}; available: {', '.join(sorted(POLICIES))}"
        )
    params = dict(params or {})
    for k, v in params.items():
        typ = cls.params.get(k)
        if typ is None:
            allowed = ", ".join(sorted(cls.params)) or "none"
            raise SpecboundError(f"{where}: unknown param {k!r} for policy {name!r}; allowed: {allowed}")
        if isinstance(v, bool) or not isinstance(v, typ):
            raise SpecboundError(f"{where}: param {k!r} of policy {name!r} has the wrong type: {v!r}")
    return cls(**params)
