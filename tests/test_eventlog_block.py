"""A stretch's conflicts (``EventLog.conflict_block``) and injection attempts
(``EventLog.injection_block``) logged as one block read back as the step-by-step calls log
them: the same chunks, rows and truncation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agents.messages import Claim
from agents.spec import Level
from sim import eventlog
from sim.eventlog import EventLog


def _stretch(seed: int, k: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Entries of ``k`` steps: some steps log nothing, some point back at the step before's entries."""
    rng = np.random.default_rng(seed)
    at, lo, rows, agents, outcome = [0], [], [], [], []
    for s in range(k):
        again = s > 0 and at[-1] > lo[-1] and rng.random() < 0.3
        if again:
            lo.append(lo[-1])
            rows.append(rows[-1])
            at.append(at[-1])
            continue
        m = int(rng.integers(0, 4))
        lo.append(at[-1])
        agents.extend(rng.integers(0, 50, m).tolist())
        outcome.extend(rng.integers(0, 9, m).tolist())
        rows.append(int(rng.integers(1, 3)) * m)
        at.append(at[-1] + m)
    return (np.array(agents, np.int64), np.array(outcome, np.int64), np.array(at, np.int64),
            np.array(rows, np.int64), np.array(lo, np.int64))


def _chunks(log: EventLog) -> list[tuple[int, list[int], list[int], list[int]]]:
    return [(s, a.tolist(), p.tolist(), o.tolist()) for s, a, p, o in log.chunks]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("bound", ["far", "exact"])
def test_block_reads_as_steps(seed: int, bound: str, monkeypatch: pytest.MonkeyPatch) -> None:
    agents, outcome, at, rows, lo = _stretch(seed)
    # "exact": the step before and the block fill the bound, so the block is held back whole
    # and the step after it is the one truncated.
    cap = 10**6 if bound == "far" else 2 + int(rows.sum())
    monkeypatch.setattr(eventlog, "MAX_EVENT_ROWS", cap)
    logs = EventLog(), EventLog()
    first = 7
    for log in logs:  # a step logged before the block, and after it
        log.conflicts(3, np.array([1, 2]), None, np.array([0, 1]), np.array([1, 1]))
    steps = list(range(first, first + len(rows)))
    logs[0].conflict_steps(steps, agents, outcome, at.tolist(), rows.tolist(), starts=lo.tolist())
    logs[1].conflict_block(first, agents, outcome, at, rows, lo)
    for log in logs:
        log.conflicts(40, np.array([4]), np.array([5]), np.array([2]), np.array([0, 0, 3]))
    assert _chunks(logs[1]) == _chunks(logs[0])
    assert (logs[1]._rows, logs[1].truncated) == (logs[0]._rows, logs[0].truncated)
    assert len(logs[0].chunks) > 3 or cap < 100


def test_snapshot_reads_the_block() -> None:
    log = EventLog()
    agents, outcome, at, rows, lo = _stretch(1)
    log.conflict_block(1, agents, outcome, at, rows, lo)
    snap = log.snapshot()
    assert _chunks(snap) == _chunks(log) and snap.chunks


def _attempts(log: EventLog) -> list[tuple[Any, ...]]:
    return [(a.step, a.agent.tolist(), a.sender.tolist(), a.label.tolist(), a.obeyed.tolist(), a.act.tolist())
            for a in log.attempts]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bound", ["far", "exact", "inside"])
def test_injection_block_reads_as_steps(seed: int, bound: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stretch's attempts logged as one block (``injection_block``) read back as one
    ``injections`` call per step logs them: the same chunks, rows and truncation."""
    rng = np.random.default_rng(seed)
    per = rng.integers(0, 4, 9)
    per[2] = 0  # a step without attempts
    cut = [0, *np.cumsum(per).tolist()]
    m = cut[-1]
    agents, senders = rng.integers(0, 50, m), rng.integers(-1, 50, m)
    label, act = rng.integers(0, 2, m), rng.integers(0, 2, m)
    obeyed = act == 1
    labels = (("peer", "order:transfer", "system", "no"), ("tool", "order:transfer", "developer", "no"))
    acts = ("work", "obey")
    cap = {"far": 10**6, "exact": 1 + m, "inside": 1 + m // 2}[bound]
    monkeypatch.setattr(eventlog, "MAX_EVENT_ROWS", cap)
    logs = EventLog(), EventLog()
    for log in logs:  # a row logged before the block, and one after it
        log.injection(2, 1, 3, "peer", Claim("order", "transfer", claimed=Level.SYSTEM), True, "obey", "no")
    for s in range(len(per)):
        lo, hi = cut[s], cut[s + 1]
        if hi > lo:
            logs[0].injections(5 + s, agents[lo:hi], senders[lo:hi], label[lo:hi], labels, obeyed[lo:hi], act[lo:hi],
                               acts)
    logs[1].injection_block(5, agents, senders, label, labels, obeyed, act, acts, cut)
    for log in logs:
        log.injections(30, np.array([4]), np.array([5]), np.array([1]), labels, np.array([False]), np.array([0]), acts)
    assert _attempts(logs[1]) == _attempts(logs[0])
    assert (logs[1]._rows, logs[1].truncated) == (logs[0]._rows, logs[0].truncated)
    assert len(logs[0].attempts) > 3 or bound != "far"
    assert logs[1].snapshot().attempts == logs[1].attempts
