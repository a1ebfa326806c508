"""Script events: one class per event type, its validation at load time beside its application at run time.

A scenario's ``[[events]]`` fire at a step (``at``) or when a per-step metric
crosses a threshold over a window of steps (``when``: ``sim.triggers``), and
apply to every group, one group or one agent (``to``). Each type declares its keys, checks them when the scenario
loads (so a bad event fails before any step runs) and changes the running
model when it fires. A new event type is one class registered with
``@event_type("name")``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from agents import inputs
from agents.chain import PRINCIPALS, Delegation
from agents.errors import ScenarioError
from agents.spec import Level, SpecLibrary, patch_spec
from scenarios.environment import parse_params
from sim.instructions import INSTRUCTION_KEYS, validate_instruction
from sim.limits import MAX_AGENTS

if TYPE_CHECKING:
    from sim.model import SpecModel
    from sim.scenario import Group, ScriptEvent


@dataclasses.dataclass(frozen=True)
class LoadContext:
    """What an event's validation may look at: the scenario's groups, specs and environment."""

    groups: tuple[Group, ...]
    library: SpecLibrary
    env_cls: Any
    env_params: Any

    @property
    def names(self) -> set[str]:
        return {g.name for g in self.groups}


@dataclasses.dataclass(frozen=True)
class Target:
    """Whom a firing event applies to: group indices, or agent indices (``to`` names one agent)."""

    groups: list[int]
    agents: list[int]


class EventType:
    """One kind of script event.

    Subclasses set ``keys`` (their own keys and types, beside ``at``, ``when``,
    ``to``, ``type``, ``once``), ``required``, and ``group_only`` when ``to``
    may name a group but never one agent.
    """

    name: ClassVar[str] = ""
    keys: ClassVar[dict[str, type]] = {}
    required: ClassVar[tuple[str, ...]] = ()
    group_only: ClassVar[bool] = False
    #: Whether firing changes what the targets decide under (their deciders are recomputed).
    rebinds: ClassVar[bool] = False

    def validate(self, ev: dict[str, Any], where: str, ctx: LoadContext) -> None:
        """Refuse, with one line naming the key, what :meth:`apply` could not apply."""

    def apply(self, model: SpecModel, args: dict[str, Any], target: Target, where: str) -> dict[str, Any]:
        """Change the model; returns what the event log records about it."""
        raise NotImplementedError


EVENT_TYPES: dict[str, EventType] = {}


def event_type(name: str) -> Callable[[type[EventType]], type[EventType]]:
    """Register an event type class under ``name`` (the ``type`` key of ``[[events]]``)."""

    def register(cls: type[EventType]) -> type[EventType]:
        cls.name = name
        EVENT_TYPES[name] = cls()
        return cls

    return register


def _count_at_least_one(ev: dict[str, Any], where: str) -> None:
    inputs.number(ev.get("count", 1), f"{where}.count", 1, MAX_AGENTS, integer=True)


@event_type("instruct")
class Instruct(EventType):
    """A principal (or a peer, or a tool) gives an instruction."""

    keys: ClassVar[dict[str, type]] = dict(INSTRUCTION_KEYS)
    required = ("source",)
    rebinds = True

    def validate(self, ev: dict[str, Any], where: str, ctx: LoadContext) -> None:
        validate_instruction({k: v for k, v in ev.items() if k in INSTRUCTION_KEYS}, where)

    def apply(self, model: SpecModel, args: dict[str, Any], target: Target, where: str) -> dict[str, Any]:
        ins = model.new_instruction(args)
        for g in target.groups:
            model.groups[g].instructions.append(ins)
        for i in target.agents:
            model.agent_extra.setdefault(i, []).append(ins)
        return {"source": ins.source, "text": ins.text, "check": ins.check, "level": str(ins.level)}


@event_type("delegate")
class Delegate(EventType):
    """A principal lends (scoped) authority to a named source."""

    keys: ClassVar[dict[str, type]] = {"source": str, "delegate": str, "level": str, "scope": list}
    required = ("source", "delegate")
    group_only = True
    rebinds = True

    def validate(self, ev: dict[str, Any], where: str, ctx: LoadContext) -> None:
        if ev.get("source") not in PRINCIPALS:
            raise ScenarioError(f"{where}.source: must be one of {', '.join(PRINCIPALS)}")
        try:
            Level.parse(ev.get("level", "user"))
        except ValueError as e:
            raise ScenarioError(f"{where}.level: {e}") from None

    def apply(self, model: SpecModel, args: dict[str, Any], target: Target, where: str) -> dict[str, Any]:
        d = Delegation(source=args["delegate"], level=Level.parse(args.get("level", "user")),
                       scope=tuple(args.get("scope", ())), by=PRINCIPALS[args["source"]])
        for g in target.groups:
            model.groups[g].delegations.append(d)
        return {"delegate": d.source, "level": str(d.level), "scope": list(d.scope)}


@event_type("patch_spec")
class PatchSpec(EventType):
    """The groups' spec changes mid-run (spec evolution)."""

    keys: ClassVar[dict[str, type]] = {"set": dict}
    required = ("set",)
    group_only = True
    rebinds = True

    def validate(self, ev: dict[str, Any], where: str, ctx: LoadContext) -> None:
        to = ev.get("to")
        for g in [g for g in ctx.groups if to is None or g.name == to] or list(ctx.groups):
            patch_spec(ctx.library.get(g.spec), ev["set"])  # validates paths and values now

    def apply(self, model: SpecModel, args: dict[str, Any], target: Target, where: str) -> dict[str, Any]:
        changes = dict(args["set"])
        for g in target.groups:
            model.groups[g].spec = patch_spec(model.groups[g].spec, changes)
        return {"set": dict(changes)}


@event_type("shock")
class Shock(EventType):
    """The environment's parameters change mid-run."""

    keys: ClassVar[dict[str, type]] = {"set": dict}
    required = ("set",)

    def validate(self, ev: dict[str, Any], where: str, ctx: LoadContext) -> None:
        if not isinstance(ev["set"], dict):
            raise ScenarioError(f"{where}.set: expected a table of environment parameters")
        current = dataclasses.asdict(ctx.env_params)
        parse_params(ctx.env_cls, {**current, **ev["set"]}, f"{where}.set")  # validated now, not at its step

    def apply(self, model: SpecModel, args: dict[str, Any], target: Target, where: str) -> dict[str, Any]:
        changes = dict(args["set"])
        model.env.shock(changes, f"{where}.set")
        return {"set": changes}


@event_type("join")
class Join(EventType):
    """Newcomers of a group join the population and the network."""

    keys: ClassVar[dict[str, type]] = {"group": str, "count": int}
    required = ("group",)
    group_only = True

    def validate(self, ev: dict[str, Any], where: str, ctx: LoadContext) -> None:
        names = ctx.names
        if ev.get("group") not in names:
            raise ScenarioError(f"{where}.group: unknown group {ev.get('group')!r}; groups: {', '.join(sorted(names))}")
        _count_at_least_one(ev, where)

    def apply(self, model: SpecModel, args: dict[str, Any], target: Target, where: str) -> dict[str, Any]:
        new = model.join(model.group_index(args["group"]), int(args.get("count", 1)))
        return {"group": args["group"], "agents": new}


@event_type("leave")
class Leave(EventType):
    """Agents (drawn from the target) leave the population and the network."""

    keys: ClassVar[dict[str, type]] = {"count": int}

    def validate(self, ev: dict[str, Any], where: str, ctx: LoadContext) -> None:
        _count_at_least_one(ev, where)

    def apply(self, model: SpecModel, args: dict[str, Any], target: Target, where: str) -> dict[str, Any]:
        return {"agents": model.leave(target.groups, target.agents, int(args.get("count", 1)))}


class Script:
    """A run's script: which events are due at a step, and firing them."""

    def __init__(self, events: tuple[ScriptEvent, ...]) -> None:
        self.events = events
        self._fired: set[int] = set()

    @property
    def has_triggers(self) -> bool:
        """Whether some event fires on a metric (``when``) rather than at a step."""
        return any(ev.when is not None for ev in self.events)

    def quiet_steps(self, step: int, limit: int) -> int:
        """How many of the ``limit`` steps after ``step`` have no ``at`` event due."""
        upcoming = [ev.at for ev in self.events
                    if ev.at is not None and ev.at > step and not (ev.once and ev.index in self._fired)]
        if upcoming:
            limit = min(limit, min(upcoming) - step - 1)
        return max(0, limit)

    def due_at(self, step: int) -> list[ScriptEvent]:
        """The ``at`` events that will fire at ``step`` (as ``fire`` finds them there), in file order."""
        return [ev for ev in self.events if ev.at == step and not (ev.once and ev.index in self._fired)]

    def fire(self, model: SpecModel) -> None:
        """Apply every event due at the model's current step, in file order."""
        for ev in self.events:
            if self._due(ev, model):
                self._fired.add(ev.index)
                self.apply(ev, model)

    def _due(self, ev: ScriptEvent, model: SpecModel) -> bool:
        if ev.once and ev.index in self._fired:
            return False
        if ev.at is not None:
            return ev.at == model.steps
        return ev.when is not None and ev.when.due(model)

    def apply(self, ev: ScriptEvent, model: SpecModel) -> None:
        """Apply one event now and log it (the script's own, or one from outside: ``viz``)."""
        kind = EVENT_TYPES[ev.type]
        target = model.target(ev.to)
        detail: dict[str, Any] = {"event": ev.index, "to": ev.to}
        detail.update(kind.apply(model, ev.args, target, f"events[{ev.index}]"))
        if kind.rebinds:
            if len(target.groups) == 1:  # one group (the usual ``to``): one comparison, not ``isin``
                touched = np.flatnonzero(model.group_of == target.groups[0])
            else:
                touched = (np.flatnonzero(np.isin(model.group_of, target.groups)) if target.groups
                           else np.array(target.agents))
            if len(touched):
                model.refresh_deciders(touched)
        model.log.script(model.steps, ev.type, target.agents[0] if target.agents else None, detail)
