"""The page's parameters as Mesa ``model_params``: spec per group, sweep paths, seed.

Mesa's ``ModelCreator`` shows a control for every entry that is a dict with a
``type`` and passes the others through unchanged; its *Reset* rebuilds the
model as ``LiveModel(**values)``. The entries are named by the same dotted
paths as ``--set``, so a control is an override and nothing else.

A control starts at the value the model is built with (the scenario's own,
after ``--set``), so *Reset* with untouched controls rebuilds the same run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.errors import SpecboundError
from sim.scenario import Scenario

#: Steps a numeric slider has between the smallest and largest swept value.
SLIDER_STEPS = 20


def current_value(scenario: Scenario, path: str) -> Any:
    """The value a dotted path has in a loaded scenario (None when unknown)."""
    parts = path.split(".")
    if parts[0] == "specs" and len(parts) == 5 and parts[2] == "principles":
        if parts[1] not in scenario.library:
            return None
        spec = scenario.library.get(parts[1])
        principle = next((p for p in spec.principles if p.id == parts[3]), None)
        value = getattr(principle, parts[4], None) if principle is not None else None
        return str(value) if parts[4] == "level" and value is not None else value
    if parts[0] == "environment" and len(parts) == 2:
        return getattr(scenario.env_params, parts[1], None)
    if parts[0] == "groups" and len(parts) == 3:
        group = next((g for g in scenario.groups if g.name == parts[1]), None)
        return getattr(group, parts[2], None) if group is not None else None
    node: Any = scenario.raw
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def sweep_paths(scenario: Scenario) -> dict[str, list[Any]]:
    """The scenario's ``[sweep]`` grid and zip paths with their values, in file order."""
    table = scenario.sweep or {}
    out: dict[str, list[Any]] = {}
    for key in ("grid", "zip"):
        for path, values in (table.get(key) or {}).items():
            out[path] = list(values)
    return out


def control(path: str, values: list[Any], current: Any) -> dict[str, Any]:
    """One Mesa user input for a path: a checkbox, a slider or a choice."""
    pool = [*values, *([] if current is None or current in values else [current])]
    value = pool[0] if current is None else current
    if all(isinstance(v, bool) for v in pool):
        return {"type": "Checkbox", "value": bool(value), "label": path}
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in pool) and len(pool) > 1:
        lo, hi = min(pool), max(pool)
        if all(isinstance(v, int) for v in pool):
            return {"type": "SliderInt", "value": int(value), "min": int(lo), "max": int(hi),
                    "step": max(1, (int(hi) - int(lo)) // SLIDER_STEPS), "label": path}
        return {"type": "SliderFloat", "value": float(value), "min": float(lo), "max": float(hi),
                "step": (float(hi) - float(lo)) / SLIDER_STEPS, "label": path}
    return {"type": "Select", "value": value, "values": pool, "label": path}


def model_params(scenario: Scenario, source: str, sets: Mapping[str, Any],
                 seed: int) -> dict[str, Any]:
    """Mesa ``model_params`` for a scenario: fixed source and ``--set``, then the controls."""
    params: dict[str, Any] = {"source": source, "sets": tuple(sets.items()),
                              "seed": {"type": "InputText", "value": str(seed), "label": "seed"}}
    specs = scenario.library.ids()
    for g in scenario.groups:
        params[f"groups.{g.name}.spec"] = {"type": "Select", "value": g.spec, "values": specs,
                                           "label": f"spec of {g.name}"}
    for path, values in sweep_paths(scenario).items():
        if path in params:
            continue
        params[path] = control(path, values, current_value(scenario, path))
    return params


def initial_values(params: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments the first model is built with: what *Reset* would pass."""
    out: dict[str, Any] = {}
    for name, entry in params.items():
        is_control = isinstance(entry, dict) and "type" in entry
        out[name] = entry["value"] if is_control else entry
    if "source" not in out:
        raise SpecboundError("model_params without a source scenario")
    return out
