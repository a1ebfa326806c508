"""The ipd-classic round robin played by the axelrod library (the peer).

axelrod (4.13.0, the ``bench`` extra) is the reference implementation of the
classic iterated prisoner's dilemma strategies. Here it plays exactly the
matches specbound's ``ipd-classic`` scenario plays: every unordered pair of
distinct agents meets once for ``turns`` turns, no noise, no self-play. With
``copies`` agents per strategy the population is ``12 * copies`` agents on a
complete graph. Each match uses fresh clones, as ``axelrod.Tournament`` does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from bench.harness import Unavailable

#: specbound policy name -> axelrod class name (same mapping as the goldens).
STRATEGIES: dict[str, str] = {
    "alternator": "Alternator",
    "anti_tit_for_tat": "AntiTitForTat",
    "bully": "Bully",
    "cooperator": "Cooperator",
    "cycler_dc": "CyclerDC",
    "defector": "Defector",
    "grudger": "Grudger",
    "suspicious_tit_for_tat": "SuspiciousTitForTat",
    "tit_for_tat": "TitForTat",
    "tit_for_two_tats": "TitFor2Tats",
    "win_shift_lose_stay": "WinShiftLoseStay",
    "win_stay_lose_shift": "WinStayLoseShift",
}


def load_axelrod():
    """Import axelrod quietly, or say how to get it."""
    try:
        with warnings.catch_warnings():
            # axelrod 4.13 warns about pkg_resources and optional extras on import.
            warnings.simplefilter("ignore")
            import axelrod
    except ImportError as exc:
        raise Unavailable(
            "axelrod is not installed; `make bench` installs the bench extra "
            "(axelrod==4.13.0, setuptools<81)"
        ) from exc
    return axelrod


@dataclass(frozen=True)
class RoundRobin:
    """Totals of a round robin.

    Attributes:
        policies: strategy name of each agent (agent order: strategy by strategy).
        totals: total score of each agent over all its matches.
        turns: turns played in all (matches x turns per match).
    """

    policies: tuple[str, ...]
    totals: np.ndarray
    turns: int

    def by_policy(self) -> dict[str, tuple[int, ...]]:
        """Sorted totals of each strategy's agents: order-free, comparable across engines."""
        out: dict[str, list[int]] = {}
        for name, total in zip(self.policies, self.totals.tolist(), strict=True):
            out.setdefault(name, []).append(int(total))
        return {k: tuple(sorted(v)) for k, v in sorted(out.items())}


def population(copies: int) -> tuple[str, ...]:
    """Strategy of each agent: ``copies`` agents per strategy, strategies in name order."""
    return tuple(name for name in sorted(STRATEGIES) for _ in range(copies))


#: axelrod's ``DeterministicCache`` per match length, kept across this process's round robins.
CACHES: dict[int, Any] = {}


def play_round_robin(copies: int = 1, turns: int = 200) -> RoundRobin:
    """Play every unordered pair of distinct agents once with axelrod's ``Match``.

    The matches share one ``DeterministicCache``, axelrod's own memo of
    deterministic match results: specbound shares decisions between identical
    agents, so the peer runs with its equivalent switched on (it matters with
    ``copies`` > 1, where the same pair of strategies meets many times). The
    cache is kept for the process's later round robins of the same length
    (:data:`CACHES`), as specbound keeps its tables and replays of whole
    stretches across the runs of a process (``scenarios.ipd_replays``):
    each side keeps its memo as long as the other does.

    Args:
        copies: agents per strategy (1: the 12-player classic; 10: 120 agents).
        turns: turns per match.

    Returns:
        Per-agent totals and the number of turns played.
    """
    axl = load_axelrod()
    policies = population(copies)
    templates = [getattr(axl, STRATEGIES[name])() for name in policies]
    totals = np.zeros(len(policies), dtype=np.int64)
    matches = 0
    cache = CACHES.get(turns)
    if cache is None:
        cache = CACHES[turns] = axl.DeterministicCache()
    for i, j in combinations(range(len(policies)), 2):
        match = axl.Match((templates[i].clone(), templates[j].clone()), turns=turns,
                          deterministic_cache=cache)
        match.play()
        a, b = match.final_score()
        totals[i] += a
        totals[j] += b
        matches += 1
    return RoundRobin(policies=policies, totals=totals, turns=matches * turns)
