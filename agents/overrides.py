"""Conflicts between a principle and the interest an agent pursues: the spec sets aside its first choice.

The resolver logs a conflict for every constraint the *chosen* act breaks.
When a spec forbids an act rather than forcing one, the chosen act breaks
nothing, and yet something gave way: the agent wanted another act and a
principle stopped it. For a policy whose ranking is its principal's interest
as the agent judges it (``reports_overrides = True``, e.g. ``weighs_risk``:
the expected gain of each act), that is a conflict between the principle and
the interest it serves, and it is logged like any other: the principle wins,
the loser is the agent's interest at ``user`` level (the agent acts for its
user), the act named is the one it wanted.

See ``docs/permissions.md`` for why this is how the two spec orderings of the
negotiation scenarios come apart in ``conflicts``.
"""

from __future__ import annotations

from typing import Any

from agents.acts import ActSpace
from agents.chain import Binding, ConflictEvent, Decision
from agents.checks import applies_to, evaluate
from agents.spec import Level

#: The pseudo-constraint an override defeats: what the agent judged best for its principal.
INTEREST = "interest"


def reports_overrides(policy: Any) -> bool:
    """Whether a principle setting aside the policy's first choice is a conflict (opt-in)."""
    return bool(getattr(policy, "reports_overrides", False))


def override_events(binding: Binding, decision: Decision, acts: ActSpace,
                    ranking: tuple[int, ...], obs: Any) -> tuple[ConflictEvent, ...]:
    """One event per constraint that the policy's first choice breaks and the chosen act keeps.

    Empty when the first choice was played (or there is no ranking).
    """
    if not ranking or ranking[0] == decision.act:
        return ()
    wanted = acts[ranking[0]]
    chosen = acts[decision.act]
    events = []
    for c, kept in zip(binding.constraints, decision.verdicts, strict=True):
        if c.check is None or kept is False or not applies_to(c.check, c.params, acts):
            continue
        if evaluate(c.check, c.params, obs, wanted) is False:
            events.append(ConflictEvent(
                winner=c.id, winner_level=c.level, winner_source=c.source,
                loser=INTEREST, loser_level=Level.USER, loser_source="policy",
                act=wanted.name,
                reason=f"the agent preferred {wanted.name!r}, which breaks {c.id}; it played {chosen.name!r}"))
    return tuple(events)
