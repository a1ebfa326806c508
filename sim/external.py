"""Outside control of a run: some agents' acts come from a caller, one decision point at a time.

Learning libraries (PettingZoo, Gymnasium) hand an observation out and take
an action back later, while a specbound environment asks for decisions from
inside its ``step``: the trust game asks for promises, then amounts sent,
then returns, each depending on the last. :class:`ExternalModel` lets the
caller answer for chosen agents (the *seats*), and :class:`Stepper` plays the
run in a worker thread that waits at every decision point of the seats, so
the caller sees one decision point per call. Only one of the two threads runs
at any time, so a run stays a pure function of its scenario, seed and the
caller's answers.

Answers go through the engine's own bookkeeping (``SpecModel.steer``):
payoffs, trust, conflicts and compliance are the environment's and the
resolver's, never re-implemented here.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agents.chain import ConflictEvent
from sim.model import SpecModel
from sim.scenario import Scenario

#: An answer outside the phase's acts: the agent's own policy and the chain of command decide.
DEFER = -1


@dataclasses.dataclass(frozen=True)
class Request:
    """One decision a seat must make now.

    Attributes:
        seat: the agent's position among the seats.
        agent: the agent's index in the model.
        partner: the other side of the interaction, -1 when there is none.
        phase: which of the environment's act spaces the decision is in.
        code: the observation code (``model.env.codec``).
        allowed: per act of the phase, whether the chain of command permits it
            (see :meth:`ExternalModel.allowed`).
    """

    seat: int
    agent: int
    partner: int
    phase: int
    code: int
    allowed: tuple[bool, ...]


@dataclasses.dataclass(frozen=True)
class Played:
    """A seat's decision as booked: the act played and its outcome row (conflicts, compliance)."""

    step: int
    seat: int
    agent: int
    partner: int
    phase: int
    act: int
    outcome: int
    deferred: bool


class ExternalModel(SpecModel):
    """A :class:`SpecModel` whose seats' decisions are answered by ``ask``.

    Args:
        scenario: a loaded scenario.
        seed: the run's seed.
        seats: agent indices whose acts come from outside (agents who join
            later decide as their group does).

    ``ask`` (set by :class:`Stepper`) receives the requests of one decision
    point, at most one per seat, and returns one act index per request; an
    index outside the phase's acts (say :data:`DEFER`) leaves the decision to
    the agent's policy and the chain of command. When a seat has several
    decisions in one call of ``decide`` (one per partner), they are asked in
    successive points, in the environment's order.
    """

    def __init__(self, scenario: Scenario, seed: int, seats: Sequence[int]) -> None:
        super().__init__(scenario, seed)
        self.seats = np.asarray(seats, dtype=np.int64)
        self._seat_of = np.full(len(self.payoff), -1, dtype=np.int64)
        self._seat_of[self.seats] = np.arange(len(self.seats))
        self.ask: Callable[[tuple[Request, ...]], Sequence[int]] = _refuse
        self.played: list[Played] = []
        self._allowed: dict[tuple[int, int], tuple[bool, ...]] = {}
        self._compliance: dict[int, tuple[tuple[str, bool], ...]] = {}

    def seat_of(self, agents: np.ndarray) -> np.ndarray:
        """Seat of each agent; -1 for agents their policy decides for (newcomers included)."""
        agents = np.asarray(agents, dtype=np.int64)
        out = np.full(len(agents), -1, dtype=np.int64)
        known = agents < len(self._seat_of)
        out[known] = self._seat_of[agents[known]]
        return out

    def allowed(self, agent: int, phase: int, code: int) -> tuple[bool, ...]:
        """Per act: whether the resolver plays it when the agent's policy ranks it first.

        An act the agent's binding (spec, instructions, delegations) rules out
        is never chosen, whatever the preference; the rest are what the spec
        leaves to the agent. Pure in (decider, code), so memoised.
        """
        decider = int(self.decider_of[phase][agent])
        key = (decider, int(code))
        found = self._allowed.get(key)
        if found is None:
            binding = self.decisions.deciders[decider].binding
            obs = self.env.codec.decode(int(code))
            acts = self.phases[phase]
            found = self._allowed[key] = tuple(
                binding.decide(obs, acts, (a,)).act == a for a in range(len(acts)))
        return found

    def steer(self, agents: np.ndarray, codes: np.ndarray, partners: np.ndarray | None, phase: int,
              cells: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        seat = self.seat_of(agents)
        mine = np.flatnonzero(seat >= 0)
        if not len(mine):
            return chosen
        chosen = chosen.copy()
        n_acts = len(self.phases[phase])
        base = self.decisions.base
        for ks in _rounds(seat[mine].tolist()):
            pos = mine[ks]
            reqs = tuple(Request(
                seat=int(seat[k]), agent=int(agents[k]),
                partner=-1 if partners is None else int(partners[k]), phase=phase, code=int(codes[k]),
                allowed=self.allowed(int(agents[k]), phase, int(codes[k])),
            ) for k in pos.tolist())
            answers = self.ask(reqs)
            for r, k, a in zip(reqs, pos.tolist(), answers, strict=True):
                deferred = not 0 <= int(a) < n_acts
                if not deferred:
                    chosen[k] = int(a)
                self.played.append(Played(self.steps, r.seat, r.agent, r.partner, phase, int(chosen[k]),
                                          int(base[cells[k]] + chosen[k]), deferred))
        return chosen

    # --- what a seat's decisions did -----------------------------------------------------
    def act_name(self, played: Played) -> str:
        return self.phases[played.phase][played.act].name

    def conflicts_of(self, played: Played) -> tuple[ConflictEvent, ...]:
        """The conflict events the decision logged (empty when it kept every principle)."""
        return self.decisions.conflicts(played.outcome)

    def compliance_of(self, played: Played) -> tuple[tuple[str, bool], ...]:
        """(principle, held) for each scored principle of the seat's spec that applied."""
        found = self._compliance.get(played.outcome)
        if found is None:
            c = self.decisions.compliance_rows()
            rows = np.flatnonzero(c["outcome"] == played.outcome)
            found = self._compliance[played.outcome] = tuple(
                (self.decisions.principle_ids[int(c["principle"][r])], bool(c["held"][r])) for r in rows.tolist())
        return found

    def trust_of_seats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per seat: mean trust it holds in the partners it met, and theirs in it (NaN: none met)."""
        k = len(self.seats)
        if not len(self.pairs):
            return np.full(k, np.nan), np.full(k, np.nan)
        a, b = self.pairs.pairs()
        met = self.pairs["turns"] > 0
        trust = self.pairs.all_trust()
        out = []
        for side in (a, b):
            seat = self.seat_of(side)
            use = met & (seat >= 0)
            n = np.bincount(seat[use], minlength=k)
            s = np.bincount(seat[use], weights=trust[use], minlength=k)
            out.append(np.divide(s, n, out=np.full(k, np.nan), where=n > 0))
        return out[0], out[1]


def _refuse(requests: tuple[Request, ...]) -> Sequence[int]:
    raise RuntimeError("ExternalModel has no caller to ask: drive it with a Stepper")


def _rounds(seats: list[int]) -> list[list[int]]:
    """Positions grouped so that each seat appears at most once per group, its decisions in order."""
    rounds: list[list[int]] = []
    seen: dict[int, int] = {}
    for pos, s in enumerate(seats):
        r = seen.get(s, 0)
        seen[s] = r + 1
        if r == len(rounds):
            rounds.append([])
        rounds[r].append(pos)
    return rounds


class _Abandoned(BaseException):
    """Raised inside the worker when the caller walks away from a paused run (not an Exception,
    so no handler in the engine swallows it)."""


_END = object()
_ABANDON = object()


class Stepper:
    """Plays an :class:`ExternalModel` in a worker thread that pauses at each decision point.

    Args:
        model: the model; its ``ask`` is taken over.
        steps: how many engine steps the run lasts (it also ends when no seat is alive).

    :meth:`start` and :meth:`answer` return the next point's requests, or
    ``None`` once the run is over. The caller reads the model only while the
    worker waits, which is whenever neither of those is running.
    """

    def __init__(self, model: ExternalModel, steps: int) -> None:
        self.model = model
        self.steps = int(steps)
        self.finished = False
        self._to_worker: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._to_caller: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._thread = threading.Thread(target=self._work, name="specbound-stepper", daemon=True)
        self._waiting = False
        model.ask = self._ask

    def start(self) -> tuple[Request, ...] | None:
        self._thread.start()
        return self._wait()

    def answer(self, acts: Sequence[int]) -> tuple[Request, ...] | None:
        if not self._waiting:
            raise RuntimeError("the run is not waiting for answers")
        self._waiting = False
        self._to_worker.put(list(acts))
        return self._wait()

    def close(self, wait: bool = True) -> None:
        """Stop a paused run: its thread ends (``wait``: before this returns).

        Nothing to do when the run ended or never started. A finalizer passes
        ``wait=False``: garbage collection may run it in any thread, which must
        not block there.
        """
        if self._waiting:
            self._waiting = False
            self._to_worker.put(_ABANDON)
            if wait:
                self._thread.join()
        self.finished = True

    def _wait(self) -> tuple[Request, ...] | None:
        msg = self._to_caller.get()
        if msg is _END:
            self.finished = True
            self._thread.join()
            return None
        if isinstance(msg, BaseException):
            self.finished = True
            self._thread.join()
            raise msg
        self._waiting = True
        return msg

    def _ask(self, requests: tuple[Request, ...]) -> Sequence[int]:
        self._to_caller.put(requests)
        reply = self._to_worker.get()
        if reply is _ABANDON:
            raise _Abandoned
        return reply

    def _work(self) -> None:
        m = self.model
        try:
            while m.steps < self.steps and m.alive[m.seats].any():
                m.step()
        except _Abandoned:
            return
        except BaseException as e:  # handed to the caller, who raises it
            self._to_caller.put(e)
            return
        self._to_caller.put(_END)
