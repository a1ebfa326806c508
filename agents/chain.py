"""The chain-of-command resolver: which act a spec-bound agent may take, and why.

An agent is bound by its spec (principles with levels of authority) and by
the instructions its principals give at run time. :class:`Binding` compiles
the two into one ordered **compliance vector** of constraints and then, for
each observation, picks from the candidates its policy ranked the act that
honours that vector best, lexicographically: a constraint is never given up
for a lower one when some act keeps both.

The rules, after the Model Spec's chain of command:

* A principle's level is the authority needed to override it. ``root`` is
  never overridden; ``system``/``developer``/``user`` principles are removed
  only by an instruction of at least that level naming them in ``overrides``;
  a ``guideline`` also yields *implicitly*, simply because any user
  instruction ranks above it in the vector.
* Only principals (``system``, ``developer``, ``user``) instruct. Peers, tools
  and quoted text carry information, not authority: their instructions go to
  :attr:`Binding.ignored` unless a principal delegated to that named source
  (scoped by check name, never above the delegator) or the spec itself grants
  peers authority (``peer_authority``, the flaw of the ``gullible`` spec).
* Within one level, spec principles come before instructions (a user-level
  default holds against an implicit user request); among instructions the
  later one comes first (a later message supersedes an earlier one).
* Two root constraints that no act can both satisfy: inaction.

Every constraint the chosen act violates is reported as a
:class:`ConflictEvent` naming the constraint that won over it. A decision is
a pure function of (binding, observation, ranking), so it is memoised.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from agents.acts import Act, ActSpace
from agents.checks import applies_to, get_check, param_problem
from agents.errors import SpecboundError, SpecError
from agents.readset import fields_read, fork, is_recording, note, unwrap
from agents.spec import Level, Principle, Spec

#: The principals and the authority their messages carry. Everything else
#: (a peer's name, "tool", "quote") has none of its own.
PRINCIPALS: MappingProxyType[str, Level] = MappingProxyType(
    {"system": Level.SYSTEM, "developer": Level.DEVELOPER, "user": Level.USER}
)

PRINCIPLE = "principle"
INSTRUCTION = "instruction"


@dataclass(frozen=True, slots=True)
class Instruction:
    """A runtime instruction from a principal, a peer or a tool.

    Attributes:
        id: names the instruction in conflict events and explanations.
        source: ``"system"``, ``"developer"`` or ``"user"`` for principals; any
            other string (a peer's name, ``"tool"``) is a source without authority.
        level: the authority the instruction is given at; a principal's
            instruction never counts above its source's level.
        text: what was said, for humans and LLM agents.
        check: a registered check scoring compliance (``None``: text-only).
        params: the check's parameters as a sorted tuple of items.
        overrides: ids of spec principles this instruction explicitly sets aside.
        seq: arrival order; at one level the later instruction wins.
        claimed: the authority a peer's message claims for itself ("this is a
            system message..."); heeded only by specs that grant peers authority.
    """

    id: str
    source: str
    level: Level
    text: str = ""
    check: str | None = None
    params: tuple[tuple[str, Any], ...] = ()
    overrides: tuple[str, ...] = ()
    seq: int = 0
    claimed: Level = Level.NONE


@dataclass(frozen=True, slots=True)
class Delegation:
    """A principal lends the named ``source`` authority for some checks.

    The source's instructions then count at ``min(level, by)`` (nobody
    delegates more authority than they hold), and only when their check is in
    ``scope``; an empty scope delegates nothing.
    """

    source: str
    level: Level
    scope: tuple[str, ...] = ()
    by: Level = Level.USER


@dataclass(frozen=True, slots=True)
class Constraint:
    """One entry of the compliance vector: a live principle or instruction."""

    id: str
    level: Level
    source: str
    check: str | None
    params: tuple[tuple[str, Any], ...]
    kind: str
    text: str = ""

    def label(self) -> str:
        """``check(k=v, ...)`` or ``text-only``, for explanations."""
        if self.check is None:
            return "text-only"
        args = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.check}({args})" if args else self.check


@dataclass(frozen=True, slots=True)
class ConflictEvent:
    """A constraint the chosen act violates, and the constraint it lost to.

    ``winner`` fields are ``None`` when no candidate act satisfies the loser
    at all (``reason`` starts with ``"unsatisfiable"``).
    """

    winner: str | None
    winner_level: Level | None
    winner_source: str | None
    loser: str
    loser_level: Level
    loser_source: str
    act: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The resolver's choice for one observation.

    Attributes:
        act: index of the chosen act in the act space.
        conflicts: one event per constraint the chosen act violates.
        verdicts: per constraint of :attr:`Binding.constraints`, its verdict on
            the chosen act (``None``: not applicable, text-only, or not
            evaluated because the decision was ``root_only``).
        inaction: two root constraints deadlocked and the agent did nothing.
        obs, ranking, root_only: the inputs, kept so :meth:`Binding.explain`
            can replay the decision; they do not take part in equality.
    """

    act: int
    conflicts: tuple[ConflictEvent, ...]
    verdicts: tuple[bool | None, ...]
    inaction: bool = False
    obs: Any = field(default=None, compare=False, repr=False)
    ranking: tuple[int, ...] = field(default=(), compare=False, repr=False)
    root_only: bool = field(default=False, compare=False, repr=False)


@dataclass(slots=True)
class _Table:
    """Per act space: the bound check of each scored constraint and the memo."""

    acts: ActSpace
    scored: tuple[int, ...]  # indices into Binding.constraints with a check
    fns: tuple[Callable[[Any, Act], bool | None], ...]
    n_root: int  # how many of `scored` are root (they come first)
    weights: tuple[int, ...] = ()  # bit of each scored constraint, most significant first
    memo: dict[Hashable, Decision] = field(default_factory=dict)
    # Per memo key, the observation fields its decision read (known once it was made on a
    # recording proxy): a memo hit replays them, else the caller's read-set would be too small.
    reads: dict[Hashable, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Evaluation:
    """Every candidate's verdicts and score, for one observation."""

    order: tuple[int, ...]  # candidate act indices, policy preference first
    names: tuple[str, ...]  # their names
    rows: tuple[tuple[bool | None, ...], ...]  # per candidate, per evaluated constraint
    scores: tuple[int, ...]  # per candidate: bit set where a constraint is kept
    evaluated: tuple[int, ...]  # constraint indices evaluated, vector order
    width: int

    def bit(self, j: int) -> int:
        return 1 << (self.width - 1 - j)

    def best(self, among: Sequence[int]) -> int:
        """Position in ``order`` of the highest score among positions ``among`` (first wins ties)."""
        top = among[0]
        for p in among[1:]:
            if self.scores[p] > self.scores[top]:
                top = p
        return top

    def keepers(self, j: int) -> list[int]:
        """Positions of the candidates that keep evaluated constraint ``j``."""
        b = self.bit(j)
        return [p for p, s in enumerate(self.scores) if s & b]


class Binding:
    """A spec plus live instructions and delegations, compiled into a resolver.

    Args:
        spec: the agent's resolved spec.
        instructions: runtime instructions, any order (``seq`` orders them).
        delegations: authority principals lent to named non-principal sources.

    Raises:
        SpecError: a principle or instruction names an unknown check or gives
            it parameters it does not take.
    """

    __slots__ = (
        "_hash",
        "_tables",
        "constraints",
        "delegations",
        "effective",
        "ignored",
        "instructions",
        "key",
        "overridden",
        "spec",
    )

    def __init__(
        self,
        spec: Spec,
        instructions: Sequence[Instruction] = (),
        delegations: Sequence[Delegation] = (),
    ) -> None:
        self.spec = spec
        self.instructions = tuple(instructions)
        self.delegations = tuple(delegations)
        for p in spec.principles:
            _validate(p.check, p.params, f"spec {spec.id!r} principle {p.id!r}")
        for ins in self.instructions:
            _validate(ins.check, ins.params, f"instruction {ins.id!r} from {ins.source!r}")
        live: list[tuple[Instruction, Level]] = []
        ignored: list[Instruction] = []
        for ins in self.instructions:
            level = effective_level(ins, spec.peer_authority, self.delegations)
            if level > Level.NONE:
                live.append((ins, level))
            else:
                ignored.append(ins)
        self.ignored: tuple[Instruction, ...] = tuple(ignored)
        #: Instructions with authority and the level they count at, in input order.
        self.effective: tuple[tuple[Instruction, Level], ...] = tuple(live)
        self.overridden: tuple[tuple[str, str], ...] = _overrides(spec.principles, live)
        gone = {pid for pid, _ in self.overridden}
        self.constraints: tuple[Constraint, ...] = _vector(
            spec.id, [p for p in spec.principles if p.id not in gone], live
        )
        # What decisions depend on; equal for bindings that decide alike, so
        # the engine can share one memo between them.
        self.key: Hashable = (spec, self.effective, self.delegations)
        self._tables: dict[int, _Table] = {}
        # The key's hash, taken on first use: it walks the whole spec, and a build files
        # every (agent variant, phase) under its binding.
        self._hash: int | None = None

    # --- identity ---------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Binding) and self.key == other.key

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            h = self._hash = hash(self.key)
        return h

    def __repr__(self) -> str:
        return (
            f"Binding(spec={self.spec.id!r}, constraints={len(self.constraints)}, "
            f"ignored={len(self.ignored)}, overridden={len(self.overridden)})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from inputs: the memo and bound checks are caches.
        return (Binding, (self.spec, self.instructions, self.delegations))

    # --- deciding ---------------------------------------------------------------

    def decide(
        self, obs: Hashable, acts: ActSpace, ranking: Sequence[int], root_only: bool = False
    ) -> Decision:
        """Choose the act that best keeps the compliance vector.

        Args:
            obs: the observation (a hashable namedtuple) the checks read, or a
                :class:`agents.readset.RecordingObs` of one: then the fields the
                decision depends on are recorded in it, memo hit or not.
            acts: the environment's act space.
            ranking: act indices, the policy's most preferred first; may be
                partial (the other acts follow in index order).
            root_only: keep only root constraints (the fast path of an agent
                that does not deliberate this time).

        Returns:
            The decision, memoised on ``(obs, ranking, root_only)``.
        """
        table = self._table(acts)
        if not isinstance(ranking, tuple):
            ranking = tuple(ranking)
        if is_recording(obs):
            return self._decide_recording(table, obs, ranking, root_only)
        key = (obs, ranking, root_only)
        found = table.memo.get(key)
        if found is None:
            found = table.memo[key] = self._resolve(table, obs, ranking, root_only)
        return found

    def _decide_recording(
        self, table: _Table, obs: Any, ranking: tuple[int, ...], root_only: bool
    ) -> Decision:
        """:meth:`decide` on a recording proxy: the memo stays keyed by the real observation."""
        key = (unwrap(obs), ranking, root_only)
        read = table.reads.get(key)
        if read is None:
            # Never made on a proxy (or not at all): make it on a fresh record to learn its
            # own reads. It is pure, so an existing entry stays valid and is kept.
            own = fork(obs)
            made = self._resolve(table, own, ranking, root_only)
            table.memo.setdefault(key, made)
            read = table.reads[key] = fields_read(own)
        note(obs, read)
        return table.memo[key]

    def _table(self, acts: ActSpace) -> _Table:
        table = self._tables.get(id(acts))
        if table is None or table.acts is not acts:
            scored = tuple(k for k, c in enumerate(self.constraints) if c.check is not None)
            fns = tuple(_bind(self.constraints[k], acts) for k in scored)
            n_root = sum(1 for k in scored if self.constraints[k].level == Level.ROOT)
            weights = tuple(1 << (len(scored) - 1 - j) for j in range(len(scored)))
            table = self._tables[id(acts)] = _Table(acts, scored, fns, n_root, weights)
        return table

    def _evaluate(
        self, table: _Table, obs: Any, ranking: tuple[int, ...], root_only: bool
    ) -> _Evaluation:
        order = candidates(ranking, len(table.acts))
        width = table.n_root if root_only else len(table.scored)
        fns = table.fns[:width]
        weights = table.weights[len(table.scored) - width :]
        rows = []
        scores = []
        for i in order:
            act = table.acts[i]
            row = tuple([fn(obs, act) for fn in fns])
            rows.append(row)
            # True and None (not applicable) both keep the constraint.
            scores.append(sum([w for w, v in zip(weights, row, strict=True) if v is not False]))
        names = tuple(table.acts[i].name for i in order)
        return _Evaluation(order, names, tuple(rows), tuple(scores), table.scored[:width], width)

    def _resolve(
        self, table: _Table, obs: Any, ranking: tuple[int, ...], root_only: bool
    ) -> Decision:
        ev = self._evaluate(table, obs, ranking, root_only)
        best = ev.best(range(len(ev.order)))
        deadlock = _root_deadlock(ev, table.n_root)
        chosen = best
        if deadlock is not None:
            noop = table.acts.noop
            if noop is not None:
                chosen = ev.order.index(noop)
        act_name = ev.names[chosen]
        conflicts = []
        row = ev.rows[chosen]
        for j, v in enumerate(row):
            if v is False:
                conflicts.append(self._conflict(ev, j, chosen, act_name, deadlock))
        verdicts: list[bool | None] = [None] * len(self.constraints)
        for j, k in enumerate(ev.evaluated):
            verdicts[k] = row[j]
        return Decision(
            act=ev.order[chosen],
            conflicts=tuple(conflicts),
            verdicts=tuple(verdicts),
            inaction=deadlock is not None,
            obs=unwrap(obs),  # kept for explain: the observation itself, never a proxy
            ranking=ranking,
            root_only=root_only,
        )

    def _conflict(
        self,
        ev: _Evaluation,
        j: int,
        chosen: int,
        act_name: str,
        deadlock: tuple[int, int] | None,
    ) -> ConflictEvent:
        loser = self.constraints[ev.evaluated[j]]
        winner: Constraint | None = None
        if deadlock is not None and j in deadlock:
            other = self.constraints[ev.evaluated[deadlock[0] + deadlock[1] - j]]
            return _event(
                other, loser, act_name,
                f"root deadlock: no act keeps both {other.id} and {loser.id}; inaction",
            )  # fmt: skip
        keepers = ev.keepers(j)
        if not keepers:
            return _event(None, loser, act_name, "unsatisfiable: no candidate act keeps it")
        alt = ev.best(keepers)
        lost_on = ev.scores[chosen] & ~ev.scores[alt]
        alt_name = ev.names[alt]
        if lost_on == 0:
            # Only inaction picks an act that is not the best: the deadlock won.
            assert deadlock is not None
            a, b = (self.constraints[ev.evaluated[d]].id for d in deadlock)
            return _event(
                None, loser, act_name,
                f"inaction forced by root deadlock between {a} and {b}; {alt_name} would keep it",
            )  # fmt: skip
        winner = self.constraints[ev.evaluated[ev.width - lost_on.bit_length()]]
        return _event(
            winner, loser, act_name,
            f"{alt_name} would keep {loser.id} but break {winner.id}",
        )  # fmt: skip

    # --- explaining -------------------------------------------------------------

    def explain(self, decision: Decision, acts: ActSpace) -> str:
        """A human account of a decision: the vector, every candidate, why this act.

        Args:
            decision: a decision of this binding (as returned by :meth:`decide`).
            acts: the act space it was made in.
        """
        return _explain(self, decision, acts)


# --- compiling -------------------------------------------------------------------


def effective_level(
    ins: Instruction, peer_authority: Level = Level.NONE, delegations: Sequence[Delegation] = ()
) -> Level:
    """The authority an instruction counts at (``Level.NONE``: it is only information).

    A principal's instruction counts at its own level capped by the source's;
    any other source counts only through a delegation covering the
    instruction's check, at ``min(delegation.level, delegation.by)``, or through
    the spec's ``peer_authority`` (the claimed level, capped by it).
    """
    own = PRINCIPALS.get(ins.source)
    if own is not None:
        return min(ins.level, own)
    levels = [Level.NONE]
    if ins.check is not None:
        levels += [
            min(d.level, d.by)
            for d in delegations
            if d.source == ins.source and ins.check in d.scope
        ]
    if peer_authority > Level.NONE:
        levels.append(min(ins.claimed, peer_authority) if ins.claimed else peer_authority)
    return Level(max(levels))


def candidates(ranking: Sequence[int], n: int) -> tuple[int, ...]:
    """The candidate order: ``ranking`` (duplicates dropped), then the other acts by index.

    Raises:
        SpecboundError: the act space is empty or ``ranking`` names no act of it.
    """
    if n == 0:
        raise SpecboundError("act space is empty; an environment needs at least one act")
    seen: dict[int, None] = {}
    for i in ranking:
        if not isinstance(i, int) or isinstance(i, bool):
            try:
                i = i.__index__()
            except AttributeError:
                raise SpecboundError(f"ranking entry {i!r} is not an act index") from None
        if not 0 <= i < n:
            raise SpecboundError(f"ranking entry {i} out of range; allowed: 0..{n - 1}")
        seen.setdefault(i)
    return (*seen, *(i for i in range(n) if i not in seen))


def _validate(check: str | None, params: tuple[tuple[str, Any], ...], where: str) -> None:
    if check is None:
        return
    try:
        problem = param_problem(check, dict(params))
    except SpecError as err:
        raise SpecError(f"{where}: {err}") from None
    if problem:
        raise SpecError(f"{where}: {problem}")


def _not_applicable(obs: Any, act: Act) -> None:
    return None


def _bind(c: Constraint, acts: ActSpace) -> Callable[[Any, Act], bool | None]:
    assert c.check is not None
    # A principle no act of this decision can bear on does not apply to it at all.
    if not applies_to(c.check, c.params, acts):
        return _not_applicable
    fn = get_check(c.check).fn
    return functools.partial(fn, **dict(c.params)) if c.params else fn


def _overrides(
    principles: Sequence[Principle], live: Sequence[tuple[Instruction, Level]]
) -> tuple[tuple[str, str], ...]:
    """(principle id, instruction id) for each principle an instruction explicitly removes."""
    latest_first = sorted(enumerate(live), key=lambda e: (-e[1][0].seq, -e[0]))
    out = []
    for p in principles:
        if p.level >= Level.ROOT:
            continue
        # Only principals' levels (user and up) override, even a guideline.
        need = max(p.level, Level.USER)
        for _, (ins, level) in latest_first:
            if p.id in ins.overrides and level >= need:
                out.append((p.id, ins.id))
                break
    return tuple(out)


def _vector(
    spec_id: str, principles: Sequence[Principle], live: Sequence[tuple[Instruction, Level]]
) -> tuple[Constraint, ...]:
    """Order principles and instructions into the compliance vector."""
    keyed: list[tuple[tuple[int, ...], Constraint]] = []
    for rank, p in enumerate(principles):
        c = Constraint(
            p.id, p.level, f"spec:{p.layer or spec_id}", p.check, p.params, PRINCIPLE, p.text
        )
        keyed.append(((-p.level, 0, rank), c))
    for pos, (ins, level) in enumerate(live):
        c = Constraint(ins.id, level, ins.source, ins.check, ins.params, INSTRUCTION, ins.text)
        keyed.append(((-level, 1, -ins.seq, -pos), c))
    keyed.sort(key=lambda kc: kc[0])
    return tuple(c for _, c in keyed)


def _root_deadlock(ev: _Evaluation, n_root: int) -> tuple[int, int] | None:
    """The first pair of root constraints each keepable but never together."""
    n = min(n_root, ev.width)
    all_roots = ((1 << n) - 1) << (ev.width - n)
    if n < 2 or any(s & all_roots == all_roots for s in ev.scores):
        return None
    masks = []
    for j in range(n):
        b = ev.bit(j)
        masks.append(sum(1 << p for p, s in enumerate(ev.scores) if s & b))
    for a, ma in enumerate(masks):
        if not ma:
            continue
        for b in range(a + 1, len(masks)):
            if masks[b] and not ma & masks[b]:
                return (a, b)
    return None


def _event(winner: Constraint | None, loser: Constraint, act: str, reason: str) -> ConflictEvent:
    return ConflictEvent(
        winner=None if winner is None else winner.id,
        winner_level=None if winner is None else winner.level,
        winner_source=None if winner is None else winner.source,
        loser=loser.id,
        loser_level=loser.level,
        loser_source=loser.source,
        act=act,
        reason=reason,
    )


# --- explaining ------------------------------------------------------------------

_MARK = {True: "+", None: ".", False: "-"}


def _explain(b: Binding, decision: Decision, acts: ActSpace) -> str:
    spec = b.spec
    layers = " < ".join(spec.layers) if spec.layers else spec.id
    lines = [f"spec {spec.id} v{spec.version} (layers: {layers})"]
    lines.append("compliance vector, highest weight first:")
    wid = max((len(c.id) for c in b.constraints), default=2)
    wsrc = max((len(c.source) for c in b.constraints), default=6)
    for k, c in enumerate(b.constraints):
        lines.append(f"  {k + 1:>2}. {c.id:<{wid}}  {c.level!s:<9} {c.source:<{wsrc}}  {c.label()}")
    if not b.constraints:
        lines.append("  (empty: nothing binds the agent, the policy decides)")
    by_id = {ins.id: ins for ins in b.instructions}
    for pid, iid in b.overridden:
        ins = by_id[iid]
        lines.append(f"overridden: {pid} set aside explicitly by {iid} (from {ins.source})")
    for ins in b.ignored:
        what = ins.check or "text-only"
        said = f" {ins.text!r}" if ins.text else ""
        lines.append(f"ignored: {ins.id} from {ins.source} has no authority ({what}){said}")

    table = b._table(acts)
    ev = b._evaluate(table, decision.obs, decision.ranking, decision.root_only)
    numbers = [str(k + 1) for k in ev.evaluated]
    wname = max(len(n) for n in ev.names)
    mode = " (root constraints only)" if decision.root_only else ""
    lines.append(f"candidates, policy preference first{mode}: + keeps, - breaks, . n/a")
    lines.append(f"    {'':<{wname}}  {' '.join(f'{n:>2}' for n in numbers)}")
    chosen = ev.order.index(decision.act)
    for p, name in enumerate(ev.names):
        star = "*" if p == chosen else " "
        marks = " ".join(f"{_MARK[v]:>2}" for v in ev.rows[p])
        lines.append(f"  {star} {name:<{wname}}  {marks}")

    lines.append(
        f"chosen: {ev.names[chosen]}" + (" (inaction: root deadlock)" if decision.inaction else "")
    )
    for p, name in enumerate(ev.names):
        if p != chosen:
            lines.append(f"  over {name}: {_why(b, ev, chosen, p)}")
    for e in decision.conflicts:
        if e.winner is None:
            lines.append(f"conflict: {e.loser} ({e.loser_level}) broken; {e.reason}")
        else:
            lines.append(
                f"conflict: {e.loser} ({e.loser_level}, {e.loser_source}) lost to "
                f"{e.winner} ({e.winner_level}, {e.winner_source}); {e.reason}"
            )
    return "\n".join(lines)


def _why(b: Binding, ev: _Evaluation, chosen: int, other: int) -> str:
    """Why the chosen candidate stands above another one."""
    me, them = ev.names[chosen], ev.names[other]
    mine, theirs = ev.scores[chosen], ev.scores[other]
    if mine == theirs:
        if chosen < other:
            return f"{them} keeps the same constraints; the policy prefers {me}"
        return f"{them} keeps the same constraints, but a root deadlock calls for inaction"
    j = ev.width - (mine ^ theirs).bit_length()
    c = b.constraints[ev.evaluated[j]]
    if mine & ev.bit(j):
        return f"{them} breaks {c.id} ({c.level}), which {me} keeps"
    return f"{them} keeps {c.id} ({c.level}), which {me} breaks, but a root deadlock calls for inaction"
