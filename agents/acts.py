"""Acts: what an agent does in one interaction.

An act is a move from the environment's finite act space together with the
message that goes with it. Environments declare their acts once; the engine
works with act indices, and checks read the act's declared attributes, so the
same check (``truthful``, ``keeps_promise``...) serves every environment.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload


@dataclass(frozen=True, slots=True)
class Act:
    """One candidate act.

    Attributes:
        name: unique within the environment (``"C"``, ``"refuse"``, ``"lie"``).
        cooperative: whether the move cooperates (``None``: not a cooperation move).
        promise: the move announced as cheap talk, if any (``"C"``).
        asserts_false: the message states something the agent believes false
            (a lie of commission).
        misleads: the message is true but meant to mislead (a lie of omission).
        refuses: the agent declines to answer or to act.
        discloses: facts the message reveals.
        serves: hidden goals or injected instructions the act carries out.
        denies: the message denies or hides what the act serves (covert).
        take: a quantity taken from a shared resource, as a share of the
            sustainable take (commons), if any.
        gives: a share (0..1) of what the agent could give that it gives to
            its partner (investment and return in the trust game), if any.
        noop: the do-nothing act chosen when root principles deadlock.
    """

    name: str
    cooperative: bool | None = None
    promise: str | None = None
    asserts_false: bool = False
    misleads: bool = False
    refuses: bool = False
    discloses: tuple[str, ...] = ()
    serves: tuple[str, ...] = ()
    denies: bool = False
    take: float | None = None
    gives: float | None = None
    noop: bool = False
    text: str = ""

    @property
    def deceptive(self) -> bool:
        """A lie of commission or omission, or a promise made to be broken."""
        return bool(self.asserts_false or self.misleads
                    or (self.promise is not None and self.cooperative is not None
                        and (self.promise == "C") != self.cooperative))

    @property
    def serves_injection(self) -> bool:
        """Carries out an instruction injected by a peer or a tool (``serves`` names it "injected")."""
        return "injected" in self.serves

    @property
    def covert(self) -> bool:
        """Serves a hidden goal while the message denies it."""
        return bool(self.serves) and self.denies


class ActSpace(Sequence[Act]):
    """An environment's ordered, finite set of acts, addressable by name or index."""

    __slots__ = ("_acts", "_index")

    def __init__(self, acts: Sequence[Act]) -> None:
        self._acts = tuple(acts)
        self._index = {a.name: i for i, a in enumerate(self._acts)}
        if len(self._index) != len(self._acts):
            raise ValueError("act names must be unique")

    @overload
    def __getitem__(self, i: int) -> Act: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Act]: ...

    def __getitem__(self, i: int | slice) -> Act | Sequence[Act]:
        return self._acts[i]

    def __len__(self) -> int:
        return len(self._acts)

    def __iter__(self) -> Iterator[Act]:
        return iter(self._acts)

    def index_of(self, name: str) -> int:
        return self._index[name]

    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self._acts)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    @property
    def noop(self) -> int | None:
        """Index of the no-op act, if the environment has one."""
        for i, a in enumerate(self._acts):
            if a.noop:
                return i
        return None
