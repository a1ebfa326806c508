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
from typing import Any

from agents.errors import InterfaceError, SpecboundError
from agents.interfaces import BatchPolicy, Policy, RankingPolicy
from agents.registry import claim

#: Pair-history codes shared by the pairwise environments and the strategies.
NONE, DEFECTED, COOPERATED = -1, 0, 1
#: Sides of the engine's coin (``obs.coin`` in 0..15) and trust resolution (twentieths).
COIN_SIDES = 16
TRUST_BUCKETS = 20


POLICIES: dict[str, type[Policy]] = {}


def policy(name: str) -> Callable[[type[Policy]], type[Policy]]:
    """Register a policy class under ``name`` (checked: a concrete ranking or batch policy, a new name)."""

    def register(cls: type[Policy]) -> type[Policy]:
        where = f"policy {name!r} ({cls.__module__}.{cls.__qualname__})"
        if not isinstance(cls, type) or not issubclass(cls, RankingPolicy | BatchPolicy):
            raise InterfaceError(f"{where}: must subclass RankingPolicy or BatchPolicy")
        if not cls.implemented():
            method = "rank" if issubclass(cls, RankingPolicy) else "choose_many"
            raise InterfaceError(f"{where}: does not implement {method}")
        claim(POLICIES, "policy", name, cls)
        cls.name = name
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


__all__ = ["COIN_SIDES", "COOPERATED", "DEFECTED", "NONE", "POLICIES", "TRUST_BUCKETS", "BatchPolicy",
           "Policy", "RankingPolicy", "make_policy", "policy"]
