"""Script event types: a new one is one class, validated at load and applied at run time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest

from agents.errors import ScenarioError
from sim.events import EVENT_TYPES, EventType, LoadContext, Target, event_type
from sim.runs.run import run_model
from sim.scenario import load_scenario_text

BONUS = "events_test_bonus"

TEXT = """
[scenario]
id = "events-case"
environment = "ipd"
steps = 6

[groups.a]
count = 3
policy = "tit_for_tat"

[groups.b]
count = 3
policy = "defector"

[[events]]
at = 4
type = "{kind}"
{body}
"""


@pytest.fixture
def bonus() -> Iterator[str]:
    """An event type that credits its targets a payoff (registered for these tests only)."""

    @event_type(BONUS)
    class Bonus(EventType):
        keys: ClassVar[dict[str, type]] = {"amount": float}
        required = ("amount",)

        def validate(self, ev: dict[str, Any], where: str, ctx: LoadContext) -> None:
            if ev["amount"] <= 0:
                raise ScenarioError(f"{where}.amount: must be positive, got {ev['amount']}")

        def apply(self, model: Any, args: dict[str, Any], target: Target, where: str) -> dict[str, Any]:
            who = np.flatnonzero(np.isin(model.group_of, target.groups)) if target.groups else target.agents
            model.payoff[who] += args["amount"]
            return {"amount": args["amount"], "agents": [int(i) for i in who]}

    yield BONUS
    del EVENT_TYPES[BONUS]


def _scenario(kind: str, body: str) -> Any:
    return load_scenario_text(TEXT.format(kind=kind, body=body), source="events-case.toml")


def test_a_registered_event_type_fires_and_is_logged(bonus: str) -> None:
    plain = run_model(load_scenario_text(TEXT.split("[[events]]")[0], source="events-case.toml"), seed=0)
    model = run_model(_scenario(bonus, 'to = "a"\namount = 100.0'), seed=0)
    (entry,) = [e for e in model.log.entries if e["kind"] == bonus]
    assert (entry["step"], entry["detail"]["agents"]) == (4, [0, 1, 2])
    np.testing.assert_array_equal(model.payoff - plain.payoff, [100.0] * 3 + [0.0] * 3)


@pytest.mark.parametrize(("kind", "body", "fragment"), [
    (BONUS, "amount = -1.0", "events[0].amount: must be positive"),
    (BONUS, "", f"a {BONUS} event needs 'amount'"),
    (BONUS, "amount = 1.0\ncolour = 1", "unknown key 'colour'"),
    ("no_such_type", "", "unknown event type 'no_such_type'"),
    ("join", 'group = "c"', "events[0].group: unknown group 'c'"),
    ("patch_spec", 'to = "0"\nset = {}', "applies to a group, not to one agent"),
])
def test_bad_events_are_refused_at_load(bonus: str, kind: str, body: str, fragment: str) -> None:
    with pytest.raises(ScenarioError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        _scenario(kind, body)


def test_every_shipped_type_is_registered() -> None:
    assert {"instruct", "delegate", "patch_spec", "shock", "join", "leave"} <= set(EVENT_TYPES)


@pytest.mark.parametrize("events", [
    [],  # the deciders at build
    [{"at": 2, "type": "delegate", "to": "workers", "source": "user", "delegate": "treasurer", "scope": ["pay"]}],
    [{"at": 2, "type": "join", "group": "workers", "count": 3}],  # a few newcomers: some variants only
    [{"at": 2, "type": "delegate", "source": "user", "delegate": "treasurer"},  # every group
     {"at": 3, "type": "join", "group": "gullible", "count": 2}],
])
def test_deciders_after_rebinding_events_are_each_agents_own(events: list[dict[str, Any]]) -> None:
    """Whatever the event, each agent's decider is the one of its own binding and policy variant
    (drawn groups: ``SpecModel._assign_deciders`` writes a whole group's, or some members', at once)."""
    model = run_model("injection", seed=4, set={"steps": 4, "events": events})
    table = model.decisions
    for i in range(len(model.group_of)):
        ids = table.known_ids(model.binding_of(i), model.policy_of(i))
        assert ids is not None and all(model.decider_of[ph][i] == d for ph, d in enumerate(ids)), i
    assert len(set(model.variant_of.tolist())) > 10  # drawn variants: the gathered path
