"""The event log of a run: conflicts decisions logged, injection attempts, and script events that fired.

Conflicts are kept compactly (step, agents, partners, outcome ids per chunk)
and expanded into rows, one per violated constraint, only when results are
written. A run logs at most ``MAX_EVENT_ROWS`` conflict rows; the rest are
counted (``events_truncated``), so a long run cannot fill memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.decisions import DecisionTable

MAX_EVENT_ROWS = 200_000


@dataclass(frozen=True)
class Attempts:
    """Injection attempts logged by one call: a row per attempt, its strings as indices into small tables."""

    step: int
    agent: np.ndarray
    sender: np.ndarray
    label: np.ndarray
    labels: tuple[tuple[str, str, str, str], ...]  # (source, order:<act>, claimed level, why)
    obeyed: np.ndarray
    act: np.ndarray
    acts: tuple[str, ...]


class EventLog:
    """Conflicts and script events, as rows of ``sim.runs.run.EVENT_COLUMNS``."""

    def __init__(self) -> None:
        self._kept: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        #: Stretches logged by ``conflict_block``, split into chunks when first read (``_chunks``).
        self._blocks: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._rows = 0
        #: Conflict rows not kept (over ``MAX_EVENT_ROWS``).
        self.truncated = 0
        #: Script events (and language-model events) that fired: step, kind, agent, detail.
        self.entries: list[dict[str, Any]] = []
        #: Injection attempts (orders without authority), in chunks: see :meth:`injections`.
        self._attempts: list[Attempts] = []
        #: Stretches logged by ``injection_block``, split into chunks when first read (``attempts``).
        self._attempt_blocks: list[tuple[Any, ...]] = []

    def conflicts(self, step: int, agents: np.ndarray, partners: np.ndarray | None, outcome: np.ndarray,
                  nconf: np.ndarray) -> None:
        """Log the decisions whose outcome has conflicts (``nconf``: conflicts per outcome)."""
        per = nconf[outcome]
        has = per > 0
        if not has.any():
            return
        # The decisions' positions once, then gathers: a boolean mask applied to each of four
        # arrays cost twice as much at 10^5 decisions (a negotiation step's 5-30% conflicts).
        at = np.flatnonzero(has)
        rows = int(per[at].sum())
        if self._rows + rows > MAX_EVENT_ROWS:
            self.truncated += rows
            return
        self._rows += rows
        p = partners[at] if partners is not None else np.full(len(at), -1)
        self._chunks.append((step, agents[at], np.asarray(p), outcome[at]))

    def conflict_steps(self, steps: list[int], agents: np.ndarray, outcome: np.ndarray, at: list[int],
                       rows: list[int], partners: np.ndarray | None = None, starts: list[int] | None = None) -> None:
        """``conflicts`` of several steps whose conflicting decisions a compiled loop picked out:
        step ``steps[s]``'s are ``agents[at[s]:at[s + 1]]`` (their ``outcome``, their ``partners``:
        None for none), logging ``rows[s]`` rows. The same chunks, rows and truncation as one
        ``conflicts`` call per step; the chunks are views of the arrays handed over (no copy per
        step), which the caller leaves alone. ``starts[s]``, if given, starts step ``s``'s entries
        instead of ``at[s]`` (a step that logs what the one before logged points at its entries);
        ``at`` then holds each step's end, never decreasing."""
        if partners is None:
            partners = np.full(at[-1] if at else 0, -1)
        for s, step in enumerate(steps):
            lo, hi = at[s] if starts is None else starts[s], at[s + 1]
            if hi == lo:
                continue
            if self._rows + rows[s] > MAX_EVENT_ROWS:
                self.truncated += rows[s]
                continue
            self._rows += rows[s]
            self._chunks.append((step, agents[lo:hi], partners[lo:hi], outcome[lo:hi]))

    def conflict_block(self, first: int, agents: np.ndarray, outcome: np.ndarray, at: np.ndarray,
                       rows: np.ndarray, starts: np.ndarray) -> None:
        """``conflict_steps`` of steps ``first``, ``first + 1``... (no partners), the arrays kept
        as handed over (the caller leaves them alone) and split into the same chunks when the log
        is first read: a run that never reads its conflicts walks no step. Past the bound on
        rows, the step by step walk truncates as ``conflict_steps`` does."""
        total = int(rows.sum())
        if not total and not (at[1:] > starts).any():
            return
        if self._rows + total > MAX_EVENT_ROWS:
            self.conflict_steps(list(range(first, first + len(rows))), agents, outcome, at.tolist(), rows.tolist(),
                                starts=starts.tolist())
            return
        self._rows += total
        self._blocks.append((first, agents, outcome, at, starts))

    @property
    def _chunks(self) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """The chunks in the order logged: deferred stretches split first (``conflict_block``)."""
        if self._blocks:
            blocks, self._blocks = self._blocks, []
            for first, agents, outcome, at, starts in blocks:
                partners = np.full(len(agents), -1)
                ends = at.tolist()
                for s, lo in enumerate(starts.tolist()):
                    hi = ends[s + 1]
                    if hi != lo:
                        self._kept.append((first + s, agents[lo:hi], partners[lo:hi], outcome[lo:hi]))
        return self._kept

    @_chunks.setter
    def _chunks(self, chunks: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]) -> None:
        self._kept, self._blocks = chunks, []

    def snapshot(self) -> EventLog:
        """A copy that later logging leaves unchanged (what a packaged result reads its rows from)."""
        snap = EventLog()
        snap._chunks, snap._rows, snap.truncated = list(self._chunks), self._rows, self.truncated
        snap.entries, snap.attempts = list(self.entries), list(self.attempts)
        return snap

    @property
    def chunks(self) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Logged conflicts so far: (step, agents, partners, outcome ids) per decide call."""
        return self._chunks

    def injection(self, step: int, agent: int, sender: int, source: str, claim: Any, obeyed: bool, act: str,
                  why: str) -> None:
        """An order without authority reached ``agent``: who tried, what it claimed, why it carried none.

        Kept beside the conflicts (``injection_ignored`` or ``injection_obeyed`` rows), under the
        same bound on rows.
        """
        self.injections(step, np.array([agent]), np.array([sender]), np.zeros(1, dtype=np.int64),
                        ((source, f"order:{claim.fact}", str(claim.claimed), why),), np.array([obeyed]),
                        np.zeros(1, dtype=np.int64), (act,))

    def fits(self, rows: int) -> bool:
        """Whether ``rows`` more rows stay within the bound (none of them would be truncated)."""
        return self._rows + rows <= MAX_EVENT_ROWS

    def injection_block(self, first: int, agents: np.ndarray, senders: np.ndarray, label: np.ndarray,
                        labels: tuple[tuple[str, str, str, str], ...], obeyed: np.ndarray, act: np.ndarray,
                        acts: tuple[str, ...], cut: list[int]) -> None:
        """``injections`` of steps ``first``, ``first + 1``...: step ``s``'s rows are
        ``cut[s]:cut[s + 1]`` of the arrays, kept as handed over (the caller leaves them alone) and
        split into the same chunks when first read (``attempts``): a stretch's ~30 calls are one.
        Past the bound on rows, step by step as :meth:`injections` truncates."""
        total = cut[-1] - cut[0]
        if not total:
            return
        if self._rows + total > MAX_EVENT_ROWS:
            for s in range(len(cut) - 1):
                lo, hi = cut[s], cut[s + 1]
                if hi > lo:
                    self.injections(first + s, agents[lo:hi], senders[lo:hi], label[lo:hi], labels, obeyed[lo:hi],
                                    act[lo:hi], acts)
            return
        self._rows += total
        self._attempt_blocks.append((first, agents, senders, label, labels, obeyed, act, acts, cut))

    @property
    def attempts(self) -> list[Attempts]:
        """The attempts' chunks in the order logged: deferred stretches split first (``injection_block``)."""
        if self._attempt_blocks:
            blocks, self._attempt_blocks = self._attempt_blocks, []
            for first, agents, senders, label, labels, obeyed, act, acts, cut in blocks:
                for s in range(len(cut) - 1):
                    lo, hi = cut[s], cut[s + 1]
                    if hi > lo:
                        self._attempts.append(Attempts(first + s, agents[lo:hi], senders[lo:hi], label[lo:hi], labels,
                                                       obeyed[lo:hi], act[lo:hi], acts))
        return self._attempts

    @attempts.setter
    def attempts(self, chunks: list[Attempts]) -> None:
        self._attempts, self._attempt_blocks = chunks, []

    def injections(self, step: int, agents: np.ndarray, senders: np.ndarray, label: np.ndarray,
                   labels: tuple[tuple[str, str, str, str], ...], obeyed: np.ndarray, act: np.ndarray,
                   acts: tuple[str, ...]) -> None:
        """Many injection attempts of one step at once, in ledger order (what :meth:`injection` logs one at a time).

        ``labels[label[k]]`` is row k's (source, ``order:<act>``, claimed level, why it carried no
        authority); ``acts[act[k]]`` the act the agent chose. Rows past ``MAX_EVENT_ROWS`` are counted.
        """
        keep = max(0, min(len(agents), MAX_EVENT_ROWS - self._rows))
        self.truncated += len(agents) - keep
        if not keep:
            return
        self._rows += keep
        self.attempts.append(Attempts(step, np.array(agents[:keep]), np.array(senders[:keep]), np.array(label[:keep]),
                                      labels, np.array(obeyed[:keep], dtype=bool), np.array(act[:keep]), acts))

    def script(self, step: int, kind: str, agent: int | None, detail: dict[str, Any]) -> None:
        self.entries.append({"step": step, "kind": kind, "agent": agent, "detail": detail})

    def steps_of(self, kind: str) -> list[int]:
        """Steps at which script events of ``kind`` fired."""
        return [e["step"] for e in self.entries if e["kind"] == kind]

    def conflict_rows(self, table: DecisionTable) -> list[dict[str, Any]]:
        """Every logged conflict, expanded: one row per (decision, violated constraint)."""
        rows: list[dict[str, Any]] = []
        for step, agents, partners, outcomes in self._chunks:
            for i, p, o in zip(agents.tolist(), partners.tolist(), outcomes.tolist(), strict=True):
                for ev in table.conflicts(o):
                    rows.append({
                        "step": step, "kind": "conflict", "agent": i, "partner": p,
                        "winner": ev.winner,
                        "winner_level": None if ev.winner_level is None else str(ev.winner_level),
                        "winner_source": ev.winner_source, "loser": ev.loser,
                        "loser_level": str(ev.loser_level), "loser_source": ev.loser_source,
                        "act": ev.act, "reason": ev.reason, "detail": None,
                    })
        for ch in self.attempts:
            for agent, sender, lab, obeyed, act in zip(ch.agent.tolist(), ch.sender.tolist(), ch.label.tolist(),
                                                       ch.obeyed.tolist(), ch.act.tolist(), strict=True):
                source, what, claimed, why = ch.labels[lab]
                rows.append({
                    "step": ch.step, "kind": "injection_obeyed" if obeyed else "injection_ignored",
                    "agent": agent, "partner": sender, "winner": None, "winner_level": None,
                    "winner_source": None, "loser": what, "loser_level": claimed, "loser_source": source,
                    "act": ch.acts[act], "reason": why, "detail": None,
                })
        return rows

    def script_rows(self) -> list[dict[str, Any]]:
        return [{"step": e["step"], "kind": e["kind"], "agent": e["agent"], "partner": None,
                 "winner": None, "winner_level": None, "winner_source": None, "loser": None,
                 "loser_level": None, "loser_source": None, "act": None, "reason": None,
                 "detail": json.dumps(e["detail"], sort_keys=True, default=str)}
                for e in self.entries]
