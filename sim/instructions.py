"""Principals' instructions as scenario files write them: validated at load, built at run time.

A group's ``[[groups.NAME.instructions]]`` and an ``instruct`` script event
share these keys; the model builds each into an ``agents.chain.Instruction``
when the run starts or the event fires.
"""

from __future__ import annotations

from typing import Any

from agents.chain import PRINCIPALS, Instruction
from agents.checks import get_check, param_problem
from agents.errors import ScenarioError
from agents.spec import Level, freeze_params
from sim.tables import check_keys

INSTRUCTION_KEYS = {"source": str, "text": str, "check": str, "params": dict,
                    "overrides": list, "claimed": str, "id": str}


def validate_instruction(ins: Any, where: str) -> tuple[tuple[str, Any], ...]:
    """The instruction table as sorted items, once its keys, level and check are valid."""
    check_keys(ins, INSTRUCTION_KEYS, where)
    if "source" not in ins:
        raise ScenarioError(f"{where}.source is required (system, developer, user or a peer's name)")
    if "claimed" in ins:
        try:
            Level.parse(ins["claimed"])
        except ValueError as e:
            raise ScenarioError(f"{where}.claimed: {e}") from None
    if "check" in ins:
        get_check(ins["check"])
        problem = param_problem(ins["check"], ins.get("params", {}))
        if problem:
            raise ScenarioError(f"{where}: {problem}")
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in ins.items()))


def build_instruction(d: dict[str, Any], seq: int) -> Instruction:
    """The instruction of a validated table; ``seq`` orders it after earlier ones (later wins)."""
    source = d["source"]
    return Instruction(
        id=str(d.get("id") or f"{source}-{seq}"),
        source=source,
        level=PRINCIPALS.get(source, Level.NONE),
        text=str(d.get("text", "")),
        check=d.get("check"),
        params=freeze_params(dict(d.get("params", ()))),
        overrides=tuple(d.get("overrides", ())),
        seq=seq,
        claimed=Level.parse(d["claimed"]) if "claimed" in d else Level.NONE,
    )
