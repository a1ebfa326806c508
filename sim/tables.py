"""Checks of one TOML table: its keys are known and their values have the expected types.

Shared by the scenario loader and the script event types, so a typo anywhere
is refused with the same one-line message naming the key and what is allowed.
"""

from __future__ import annotations

from typing import Any

from agents.errors import ScenarioError


def check_keys(table: Any, allowed: dict[str, type], where: str) -> dict:
    """``table`` itself, once it is a table whose every key is in ``allowed`` with its type."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table, got {table!r}")
    for k, v in table.items():
        if k not in allowed:
            raise ScenarioError(f"{where}: unknown key {k!r}; allowed: {', '.join(sorted(allowed))}")
        typ = allowed[k]
        ok = isinstance(v, typ) and not (isinstance(v, bool) and typ in (int, float))
        if typ is float and isinstance(v, int) and not isinstance(v, bool):
            ok = True
        if not ok:
            raise ScenarioError(f"{where}.{k}: expected {typ.__name__}, got {v!r}")
    return table


def unit_interval(v: float, where: str) -> float:
    """``v`` as a float in [0, 1]."""
    if not 0.0 <= float(v) <= 1.0:
        raise ScenarioError(f"{where}: must be between 0 and 1, got {v!r}")
    return float(v)
