"""The benchmark harness: warm up, check equal, time, take medians, report.

Every benchmark compares specbound ("ours") with a peer doing the same work
in the same process run, because absolute figures on a shared 2-core machine
are noise and only side-by-side ratios mean anything. The order of operations
is the contract of issue 8:

1. warm up both sides (imports, caches, allocator) with one untimed call each;
2. check the two sides computed the same thing, before any time is reported
   (a fast wrong answer is not a result);
3. time ``repeat`` more calls of each side and keep the median;
4. record a ``Result`` and write them all to ``bench/results.json``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agents.errors import SpecboundError

RESULTS_PATH = Path(__file__).with_name("results.json")


class Unavailable(Exception):
    """A benchmark cannot run here (a part of specbound or a peer is missing)."""


class Mismatch(SpecboundError):
    """The two sides of a benchmark did not compute the same thing."""


@dataclass(frozen=True)
class Result:
    """One row of ``bench/results.json``.

    Attributes:
        name: benchmark id (``ipd-tournament``, ``network-game``, ...).
        ours: specbound's figure in ``unit``.
        peer: the peer's figure in ``unit`` (None when there is no peer).
        peer_name: what ``peer`` is (``axelrod 4.13.0``, ``mesa 3.5``, ...).
        unit: unit of ``ours`` and ``peer``.
        ratio: how many times better ours is (higher is better whatever the unit).
        target: the ratio (or bound) the issue asks for; None: reported only.
        ok: whether the target is met (True when there is no target).
        note: what was measured, in a few words (sizes, repeats).
    """

    name: str
    ours: float
    peer: float | None
    peer_name: str
    unit: str
    ratio: float | None
    target: float | None
    ok: bool
    note: str = ""


def median_time(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall-clock seconds of ``repeat`` calls of ``fn``."""
    if repeat < 1:
        raise SpecboundError(f"bench: repeat must be >= 1, got {repeat}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(
    name: str,
    ours: Callable[[], Any],
    peer: Callable[[], Any],
    same: Callable[[Any, Any], bool],
    repeat: int,
    peer_repeat: int | None = None,
    alternate: bool = False,
) -> tuple[float, float]:
    """Warm up both sides, check they agree, then time both.

    Args:
        name: benchmark id, for the mismatch message.
        ours: specbound's side; returns what ``same`` compares.
        peer: the peer's side; returns what ``same`` compares.
        same: equality of the two sides' outputs.
        repeat: timed calls per side after the warm-up.
        peer_repeat: timed calls of the peer, when not ``repeat`` (a peer of seconds a call).
        alternate: time the sides in turn (ours, peer, ours, ...), so that a slow spell of a
            shared machine touches both; else all of ours, then all of the peer's.

    Returns:
        Median seconds per call of ours, then of the peer.

    Raises:
        Mismatch: the warm-up outputs differ; nothing is timed.
    """
    mine, theirs = ours(), peer()
    if not same(mine, theirs):
        raise Mismatch(f"bench {name}: specbound and the peer computed different results")
    theirs_repeat = repeat if peer_repeat is None else peer_repeat
    if not alternate:
        return median_time(ours, repeat), median_time(peer, theirs_repeat)
    t_ours: list[float] = []
    t_peer: list[float] = []
    for i in range(max(repeat, theirs_repeat)):
        if i < repeat:
            t_ours.append(median_time(ours, 1))
        if i < theirs_repeat:
            t_peer.append(median_time(peer, 1))
    return statistics.median(t_ours), statistics.median(t_peer)


def at_least(
    name: str,
    ours: float,
    peer: float,
    peer_name: str,
    unit: str,
    target: float | None,
    note: str = "",
) -> Result:
    """A throughput row: ratio ours / peer must reach ``target``."""
    ratio = ours / peer if peer else float("inf")
    ok = target is None or ratio >= target
    return Result(name, ours, peer, peer_name, unit, ratio, target, ok, note)


def at_most(name: str, ours: float, bound: float, unit: str, note: str = "") -> Result:
    """A row with no peer: ``ours`` must not exceed ``bound`` (ratio = bound / ours)."""
    ratio = bound / ours if ours else float("inf")
    return Result(name, ours, None, "bound", unit, ratio, bound, ours <= bound, note)


def write_results(results: Iterable[Result], path: Path = RESULTS_PATH) -> Path:
    """Write the rows as a JSON list of objects (infinite ratios become null)."""
    rows = []
    for r in results:
        row = asdict(r)
        if row["ratio"] is not None and row["ratio"] == float("inf"):
            row["ratio"] = None
        rows.append(row)
    path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return path


def _fmt(value: float | None) -> str:
    """Numbers at a readable precision for the table."""
    if value is None:
        return "-"
    if value == float("inf"):
        return "inf"
    if abs(value) >= 1e5:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_table(results: Iterable[Result]) -> str:
    """A Markdown table of the rows (the README's Performance table)."""
    header = ("benchmark", "ours", "peer", "peer name", "unit", "ratio", "target", "ok")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = (
            r.name,
            _fmt(r.ours),
            _fmt(r.peer),
            r.peer_name,
            r.unit,
            _fmt(r.ratio),
            _fmt(r.target),
            "yes" if r.ok else "NO",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
