"""A stretch's conflicts logged as one block (``EventLog.conflict_block``) read back as the
step-by-step ``conflict_steps`` logs them: the same chunks, rows and truncation."""

from __future__ import annotations

import numpy as np
import pytest

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
