"""Checks of one TOML table: its keys are known and their values have the expected types.

Shared by the scenario loader and the script event types, so a typo anywhere
is refused with the same one-line message naming the key and what is allowed.
"""

from __future__ import annotations

from typing import Any

from agents.errors import ScenarioError

#: How type errors name the TOML types.
TOML_TYPES = {dict: "a table", list: "an array", str: "a string", int: "an integer",
              float: "a number", bool: "true or false"}


def check_keys(table: Any, allowed: dict[str, type], where: str, *, top: bool = False) -> dict:
    """``table`` itself, once it is a table whose every key is in ``allowed`` with its type.

    ``top``: ``where`` is a file, not a table path, so a key follows it after a
    colon (``commons.toml: evolution``), never a dot that would read as part of the name.
    """
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
            key = f"{where}: {k}" if top else f"{where}.{k}"
            raise ScenarioError(f"{key}: expected {TOML_TYPES.get(typ, typ.__name__)}, got {v!r}"[:300])
    return table


def unit_interval(v: float, where: str) -> float:
    """``v`` as a float in [0, 1]; NaN, infinities and non-numbers are refused too."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
        raise ScenarioError(f"{where}: must be between 0 and 1, got {v!r}"[:300])
    return float(v)
