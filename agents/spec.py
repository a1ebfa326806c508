"""Specs: levels of authority, principles and layered rulebooks.

A spec is a versioned document of principles written for humans first, in TOML.
A principle's level is the authority needed to override it (Model Spec chain
of command): ``root > system > developer > user > guideline > none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    """Levels of authority, ordered so that a higher value outranks a lower one."""

    NONE = 0
    GUIDELINE = 1
    USER = 2
    DEVELOPER = 3
    SYSTEM = 4
    ROOT = 5

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(m.name.lower() for m in sorted(cls, reverse=True))

    @classmethod
    def parse(cls, value: str) -> Level:
        """Parse ``"developer"`` and friends; raises ``ValueError`` naming the allowed values."""
        try:
            return cls[str(value).upper()]
        except KeyError:
            raise ValueError(
                f"unknown level {value!r}; allowed: {', '.join(cls.names())}"
            ) from None

    def __str__(self) -> str:
        return self.name.lower()


def freeze_params(params: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    """Check params as a hashable, order-independent tuple of items."""
    if not params:
        return ()
    return tuple(sorted((str(k), _freeze(v)) for k, v in params.items()))


def _freeze(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    return v


@dataclass(frozen=True, slots=True)
class Principle:
    """One rule of a spec.

    ``check`` names a registered check (see :mod:`agents.checks`); ``None``
    makes the principle text-only: LLM agents read it, audits report it as
    unscored. ``layer`` is the id of the spec that (last) defined it.
    """

    id: str
    level: Level
    text: str = ""
    check: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    examples: tuple[tuple[tuple[str, str], ...], ...] = ()
    tags: tuple[str, ...] = ()
    layer: str = ""

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class Spec:
    """A resolved spec: all layers of ``extends`` applied.

    ``principles`` is in order of weight, as the resolver reads it: the most
    derived layer first, then the layers it extends; within a layer, file
    order. A principle redefined by a later layer takes that layer's place.
    ``layers`` lists the spec ids from the base up to this spec.
    ``texts`` maps each layer id to its TOML source, for provenance.
    ``peer_authority`` is the authority granted to messages from peers and
    tools: NONE in every sound spec (they are information, not instructions).
    """

    id: str
    version: str = "1"
    description: str = ""
    extends: tuple[str, ...] = ()
    principles: tuple[Principle, ...] = ()
    layers: tuple[str, ...] = ()
    texts: tuple[tuple[str, str], ...] = field(default=(), compare=False, hash=False)
    peer_authority: Level = Level.NONE

    def principle(self, pid: str) -> Principle | None:
        for p in self.principles:
            if p.id == pid:
                return p
        return None

    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.principles)
