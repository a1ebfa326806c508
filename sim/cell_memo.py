"""Decision cells remembered across the runs of a process (a sweep's runs, a bench's repeats).

A cell (``sim.decisions``) is the resolver's decision for one (decider,
observation) key and the consequences of each act there. It is a pure
function of what decides - the compiled binding, the policy and its
parameters, the act space, the check functions - and of the observation
fields its computation read. A run starts with an empty decision table, so
without this memo every run of a sweep recomputes the same cells through the
policy, the resolver and the checks (most of a 12-agent round robin's time).

Here a cell's *record* (its acts and outcome rows, in table-independent
form) is filed under the decider's :func:`signature` and the values of the
fields read, exactly as a table files its own cells (``_ReadSet``). A table
that misses a key asks :func:`lookup` before computing, and copies a found
record in as if it had computed it: same outcome rows, same read-set, so a
run is the same whether its cells came from here or not
(``tests/test_cell_memo.py``).

Deciders whose cells are not a pure function of these inputs (language
models, policies whose parameters are not plain values) have no signature and
are never remembered. A learner's cell is (its ranking is fixed; its tier is
the resolver's): only its choice within the tier is not, and that is made
outside the cell (``sim.learning``). The memo holds at most ``MAX_RECORDS``
cells, then starts afresh.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Hashable
from typing import Any

from agents.chain import ConflictEvent
from agents.checks import CHECKS

#: Cells kept per process before the memo is cleared (a record is a few hundred bytes).
MAX_RECORDS = 200_000


@dataclasses.dataclass(frozen=True, slots=True)
class OutcomeRecord:
    """One act's consequences in a cell, as a table's outcome rows hold them.

    ``comp`` is (principle id, held, level) per principle that applied; ``conf`` the
    level pair of each conflict (winner level x levels + loser level).
    """

    nconf: int
    violation: int
    deception: int
    covert: int
    coop: int
    injected: int
    comp: tuple[tuple[str, int, int], ...]
    conf: tuple[int, ...]
    conflicts: tuple[ConflictEvent, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class CellRecord:
    """A computed cell: the resolver's choice with and without deliberation, the learner tier,
    the outcome of each act, and the observation fields its computation read (positions)."""

    full: int
    root: int
    tier: int
    outcomes: tuple[OutcomeRecord, ...]
    read: tuple[int, ...]


class _Filed:
    """One decider's records whose computation read the fields ``index``, by their values."""

    __slots__ = ("cells", "index", "values")

    def __init__(self, index: tuple[int, ...]) -> None:
        self.index = index
        self.cells: dict[Any, CellRecord] = {}
        self.values: Callable[[Any], Any] = operator.itemgetter(*index) if index else _none


def _none(obs: Any) -> tuple[()]:
    return ()


def policy_signature(policy: Any) -> Hashable | None:
    """The policy's class, its ranking function and attribute values; None when they are not plain values.

    The function is there by identity, so a class whose ``rank`` is replaced (a test's
    monkeypatch) does not reuse the cells the old one ranked.
    """
    try:
        state = vars(policy)
    except TypeError:
        return None
    items = tuple(sorted(state.items()))
    try:
        hash(items)
    except TypeError:
        return None
    return (type(policy), getattr(type(policy), "rank", None), items)


def signature(binding: Any, policy: Any, acts: Any, codec: Any) -> Hashable | None:
    """What a decider's cells depend on, equal across runs; None: never remembered.

    The check functions are part of it (by identity), so a check registered anew
    under an old name does not reuse cells its predecessor computed.
    """
    pol = policy_signature(policy)
    if pol is None:
        return None
    return compose_signature(pol, binding_signature(binding, acts, codec))


def compose_signature(pol: Hashable, part: tuple[Any, ...]) -> tuple[Any, ...]:
    """A signature from its policy part and its binding part (the one place that orders them)."""
    return (part, pol)


class _HashedOnce(tuple):  # type: ignore[type-arg]
    """A tuple that computes its hash once: a binding's part of a signature walks the whole spec,
    and is hashed with every signature made from it and every family look-up it keys."""

    def __hash__(self) -> int:
        try:
            return self._hash  # type: ignore[no-any-return]
        except AttributeError:
            self._hash: int = tuple.__hash__(self)
            return self._hash


def binding_signature(binding: Any, acts: Any, codec: Any) -> tuple[Any, ...]:
    """The part of :func:`signature` that is not the policy's (the same for every decider of a
    binding and act space: a table computes it once per binding and phase)."""
    checks = tuple((CHECKS[c.check].fn, CHECKS[c.check].applies) if c.check in CHECKS else None
                   for c in binding.constraints if c.check is not None)
    layout = (codec.obs_type, codec.card, codec.offset)
    part = _HashedOnce((binding.key, tuple(acts), layout, checks))
    # One object per part in the process: signatures made from it then compare by identity.
    if len(_PARTS) >= MAX_PARTS:
        _PARTS.clear()
    return _PARTS.setdefault(part, part)


#: Binding parts of signatures by value, one object each (``binding_signature``).
_PARTS: dict[_HashedOnce, _HashedOnce] = {}
MAX_PARTS = 10_000


class CellMemo:
    """Records by decider signature, then by read fields and their values (see the module doc)."""

    def __init__(self, limit: int = MAX_RECORDS) -> None:
        self.limit = limit
        self._filed: dict[Hashable, list[_Filed]] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def lookup(self, sig: Hashable, obs: Any) -> CellRecord | None:
        """The record filed for this decider that agrees with ``obs`` on the fields it read."""
        for filed in self._filed.get(sig, ()):
            rec = filed.cells.get(filed.values(obs))
            if rec is not None:
                return rec
        return None

    def remember(self, sig: Hashable, obs: Any, rec: CellRecord) -> None:
        """File ``rec`` under its read fields and ``obs``'s values there."""
        if self._size >= self.limit:
            self.clear()
        known = self._filed.setdefault(sig, [])
        filed = next((f for f in known if f.index == rec.read), None)
        if filed is None:
            filed = _Filed(rec.read)
            known.append(filed)
        filed.cells[filed.values(obs)] = rec
        self._size += 1

    def clear(self) -> None:
        """Forget every record (tests; a process that wants cold runs)."""
        self._filed.clear()
        self._size = 0


#: The process's memo: one per process, shared by every run in it (workers have their own).
MEMO = CellMemo()


class TableMemo:
    """Whole decision tables by the signatures of their deciders, for runs of one population.

    A run whose deciders (in order, with their groups) are those of an earlier run of the
    process starts from a copy of that run's table instead of growing its own key by key:
    the IPD kernel then plays a round robin in one stretch. The states are opaque here
    (``DecisionTable.snapshot``); at most ``limit`` populations are kept, oldest dropped first.
    """

    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._states: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return len(self._states)

    def get(self, key: Hashable) -> Any:
        return self._states.get(key)

    def put(self, key: Hashable, state: Any) -> None:
        self._states.pop(key, None)
        if len(self._states) >= self.limit:
            self._states.pop(next(iter(self._states)))
        self._states[key] = state

    def clear(self) -> None:
        self._states.clear()


#: The process's tables by population (see ``TableMemo``).
TABLES = TableMemo()


class FamilyMemo:
    """The resolver's part of batch-ranked cells (``sim.decisions._Families``) across runs.

    Past a family's ranking a cell depends on the binding, the act space, the observation,
    the ranking and whether the policy reports overrides, not on the drawn variant: filed
    under those (``binding_signature``'s part for the first two), with the fields the
    resolver read. At most ``limit`` records, then it starts afresh.
    """

    def __init__(self, limit: int = MAX_RECORDS) -> None:
        self.limit = limit
        self._records: dict[Hashable, tuple[CellRecord, frozenset[str]]] = {}

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: Hashable) -> tuple[CellRecord, frozenset[str]] | None:
        return self._records.get(key)

    def put(self, key: Hashable, value: tuple[CellRecord, frozenset[str]]) -> None:
        if len(self._records) >= self.limit:
            self._records.clear()
        self._records[key] = value

    def clear(self) -> None:
        self._records.clear()


#: The process's family records (see ``FamilyMemo``).
FAMILY_CELLS = FamilyMemo()
