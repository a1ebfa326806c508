"""``specbound list``: what the registries hold, or what given plugins registered.

Every row comes from a registry (scenario files, the spec library, the
environment, policy, check and metric registries), so a plugin's additions
show up with no edit here.
"""

from __future__ import annotations

from typing import Any

KINDS = ("scenarios", "specs", "environments", "policies", "checks", "metrics")


def list_rows(plugins: list[Any]) -> dict[str, list[tuple[str, str]]]:
    """Rows (id, one-line description) per kind; with ``plugins``, only what they registered."""
    import scenarios  # noqa: F401
    from agents.checks import CHECKS
    from agents.policies import POLICIES
    from agents.spec import SpecLibrary
    from scenarios.environment import ENVIRONMENTS
    from sim.scenario import load_scenario, scenario_ids

    only: dict[str, set[str]] | None = None
    if plugins:
        only = {k: set() for k in KINDS}
        for p in plugins:
            for kind, names in p.registered().items():
                only.setdefault(kind, set()).update(names)

    def keep(kind: str, name: str) -> bool:
        return only is None or name in only.get(kind, set())

    rows: dict[str, list[tuple[str, str]]] = {k: [] for k in KINDS}
    if only is None:
        for sid in scenario_ids():
            rows["scenarios"].append((sid, load_scenario(sid).description))
    lib = SpecLibrary()
    folders = {f for f in (only or {}).get("spec_folders", set())}
    for sid in lib.ids():
        if only is None or any(str(lib.source(sid)).startswith(f) for f in folders):
            rows["specs"].append((sid, lib.get(sid).description))
    for name, cls in sorted(ENVIRONMENTS.items()):
        if keep("environments", name):
            rows["environments"].append((name, cls.description))
    for name, pcls in sorted(POLICIES.items()):
        if keep("policies", name):
            rows["policies"].append((name, _first(pcls.__doc__)))
    for name, info in sorted(CHECKS.items()):
        if keep("checks", name):
            rows["checks"].append((name, _first(info.doc)))
    rows["metrics"] = metric_rows(only)
    return rows


def metric_rows(only: dict[str, set[str]] | None = None) -> list[tuple[str, str]]:
    """One row per registered metric: name, label, unit, per step or final, aggregation, environments."""
    from scenarios.metric_registry import METRICS

    out = []
    for m in sorted(METRICS.values(), key=lambda m: bool(m.environments)):
        if only is not None and m.name not in only.get("metrics", set()):
            continue
        name = f"{m.name}<{_member(m.name)}>" if m.family else m.name
        when = "per step" if m.per_step else "final"
        where = f"; {', '.join(m.environments)}" if m.environments else ""
        label = m.label.replace("{}", "...")
        out.append((name, f"{label} ({m.unit}); {when}, run: {m.aggregate}{where}"))
    return out


def _member(prefix: str) -> str:
    return {"compliance.": "principle", "payoff.": "group", "conflicts_by_level.": "winner>.<loser",
            "llm.": "counter"}.get(prefix, "name")


def _first(doc: str | None) -> str:
    return doc.strip().splitlines()[0] if doc and doc.strip() else ""
