"""Spec lint: warnings about specs that load but probably do not mean what they say.

A spec that loads is well formed; lint looks for the mistakes that only show up
as odd simulation results: principles an audit cannot score, principles of one
level that pull in opposite directions (their order in the file then decides
silently), a layer that quietly moves an inherited principle to another level,
peers given authority, and scenario overrides naming principles that do not
exist. Warnings are one line each and never stop a run.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

from agents.spec import Level, Principle, Spec, SpecLibrary

#: Pairs of checks that contradict each other when they name the same value:
#: (check a, check b, the parameter both must share; None = always contradictory).
CONTRADICTIONS: tuple[tuple[str, str, str | None], ...] = (
    ("withholds", "discloses", "fact"),
    ("serves", "avoids", "goal"),
    ("sustainable_take", "max_take", None),
)


def lint(spec: Spec, library: SpecLibrary | None = None) -> list[str]:
    """Warnings for a resolved spec (empty when there is nothing to say).

    Args:
        spec: the resolved spec.
        library: where its layers came from; needed to spot a layer that
            changes the level of a principle it inherits.
    """
    warnings = [
        f"principle {p.id!r} ({p.level}) is text-only: audits cannot score it"
        for p in spec.principles
        if p.check is None
    ]
    warnings += _contradictions(spec.principles)
    if library is not None:
        warnings += _relevels(spec, library)
    if spec.peer_authority > Level.NONE:
        warnings.append(
            f"peer_authority = {str(spec.peer_authority)!r}: messages from peers and tools "
            "can instruct this agent (prompt injection works on it)"
        )
    return warnings


def _contradictions(principles: Iterable[Principle]) -> list[str]:
    out = []
    for a, b in combinations(principles, 2):
        if a.level != b.level or a.check is None or b.check is None:
            continue
        why = _contradiction(a, b)
        if why:
            out.append(
                f"principles {a.id!r} and {b.id!r} are both {a.level} and {why}; "
                "only their order decides between them"
            )
    return out


def _contradiction(a: Principle, b: Principle) -> str | None:
    if a.check == b.check:
        if a.params != b.params:
            return f"use check {a.check!r} with different params ({_fmt(a)} vs {_fmt(b)})"
        return None
    for x, y, param in CONTRADICTIONS:
        if {a.check, b.check} != {x, y}:
            continue
        if param is None:
            return f"{a.check!r} contradicts {b.check!r}"
        va, vb = a.param_dict.get(param), b.param_dict.get(param)
        if va == vb:
            return f"{a.check!r} contradicts {b.check!r} on {param} {va!r}"
    return None


def _fmt(p: Principle) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in p.params) or "none"


def _relevels(spec: Spec, library: SpecLibrary) -> list[str]:
    out = []
    for i, lid in enumerate(spec.layers):
        bases = spec.layers[:i]
        for p in library.layer(lid).principles:
            for base in reversed(bases):
                old = library.layer(base).own(p.id)
                if old is None:
                    continue
                if old.level != p.level:
                    out.append(
                        f"layer {lid!r} redefines {p.id!r} from {base!r} and changes its level "
                        f"from {old.level} to {p.level}"
                    )
                break
    return out


def lint_overrides(spec: Spec, principle_ids: Iterable[str]) -> list[str]:
    """Warnings for overrides (from scenario instructions) naming unknown principles."""
    known = set(spec.ids())
    return [
        f"override names principle {pid!r}, which spec {spec.id!r} does not have; "
        f"known: {', '.join(spec.ids()) or 'none'}"
        for pid in principle_ids
        if pid not in known
    ]
