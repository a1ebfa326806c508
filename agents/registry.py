"""Registries of what users add (policies, checks, environments, metrics): who registered which name.

A name belongs to the first module that registers it. Registering it again
from the same module and under the same qualified name (a module reloaded) is
allowed; from anywhere else it is a clash, reported when the second
definition runs, so a plugin cannot silently replace a built-in.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from agents.errors import InterfaceError


def origin(obj: Any) -> str:
    """``module.qualname`` of a class or function (what owns a registered name)."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def claim(registry: MutableMapping[str, Any], kind: str, name: str, obj: Any, owner: Any = None) -> None:
    """Register ``obj`` under ``name`` unless another definition holds it (``owner``: what to compare)."""
    if not isinstance(name, str) or not name:
        raise InterfaceError(f"{kind} {origin(owner or obj)}: the name must be a non-empty string")
    old = registry.get(name)
    if old is not None:
        mine, theirs = origin(owner if owner is not None else obj), origin(_owner(old))
        if mine != theirs:
            raise InterfaceError(f"{kind} {name!r} from {mine} clashes with the one from {theirs}")
    registry[name] = obj


def _owner(entry: Any) -> Any:
    # Checks and metrics are registered as info records holding the function.
    for attr in ("fn", "step", "final"):
        fn = getattr(entry, attr, None)
        if callable(fn):
            return fn
    return getattr(entry, "owner", None) or entry
