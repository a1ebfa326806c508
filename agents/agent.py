"""SpecAgent: a Mesa agent bound by a spec and a chain of command.

The hot state of a population (payoffs, trust, pair memory, decision tables)
lives in arrays on the model so a step is a handful of vectorised operations;
each agent object is the handle through which a user inspects one agent: its
spec, principals' live instructions, policy, trust in a partner and payoff.
"""

from __future__ import annotations

from typing import Any

from agents.mesa_import import mesa


class SpecAgent(mesa.Agent):  # type: ignore[misc]  # mesa ships no type hints
    """One agent. ``index`` is its row in the model's arrays."""

    def __init__(self, model: Any, index: int, group: str) -> None:
        super().__init__(model)
        self.index = index
        self.group = group

    @property
    def spec(self) -> Any:
        return self.model.binding_of(self.index).spec

    @property
    def binding(self) -> Any:
        """The compiled spec plus live instructions this agent decides under."""
        return self.model.binding_of(self.index)

    @property
    def instructions(self) -> tuple[Any, ...]:
        got: tuple[Any, ...] = self.model.binding_of(self.index).instructions
        return got

    @property
    def policy(self) -> Any:
        return self.model.policy_of(self.index)

    @property
    def payoff(self) -> float:
        return float(self.model.payoff[self.index])

    @property
    def alive(self) -> bool:
        return bool(self.model.alive[self.index])

    def trust_in(self, other: int) -> float:
        """Beta-reputation trust in agent ``other`` (0.5 before any evidence)."""
        return float(self.model.trust_in(self.index, other))

    def __repr__(self) -> str:
        return f"SpecAgent({self.index}, group={self.group!r})"
