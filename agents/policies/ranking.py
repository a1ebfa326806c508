"""Ranking helpers shared by the policy families: generosity, honesty, pair history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agents.acts import ActSpace
from agents.policies.base import NONE, TRUST_BUCKETS


def coop_defect(acts: ActSpace) -> tuple[int, int]:
    """The plain cooperate and defect moves of an act space (first of each kind).

    In an act space without cooperation moves (a harvest, an answer) the most
    and least generous honest acts stand in for them, so every strategy
    works in every environment.
    """
    coop = next((i for i, a in enumerate(acts) if a.cooperative is True and not is_lie(a)), None)
    defect = next((i for i, a in enumerate(acts) if a.cooperative is False and not is_lie(a)), None)
    if coop is None or defect is None:
        order = by_generosity(acts, high_first=True)
        honest = [i for i in order if not is_lie(acts[i])] or list(order)
        coop = honest[0] if coop is None else coop
        defect = honest[-1] if defect is None else defect
    return coop, defect


def play(acts: ActSpace, cooperate: bool) -> tuple[int, ...]:
    c, d = coop_defect(acts)
    if c == d:
        return (c,)
    return (c, d) if cooperate else (d, c)


HISTORY_DEFAULTS = {"my_last": NONE, "partner_last": NONE, "partner_last2": NONE,
                     "partner_defected": 0, "my_last_payoff_good": 0, "parity": 0,
                     "trust": TRUST_BUCKETS // 2, "coin": 0}


class WithHistory:
    """An observation seen through the IPD history fields, defaulting those it lacks.

    Lets the classic strategies play in environments without pair history
    (a commons, a question to answer): there they act as on a first meeting.
    """

    __slots__ = ("_obs",)

    def __init__(self, obs: Any) -> None:
        self._obs = obs

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(self._obs, name)
        except AttributeError:
            if name in HISTORY_DEFAULTS:
                return HISTORY_DEFAULTS[name]
            raise


def trust_ok(obs: Any, threshold: float) -> bool:
    # Trust is observed in twentieths; the threshold is compared at that resolution.
    return bool(obs.trust >= round(threshold * TRUST_BUCKETS))



def generosity(a: Any) -> float:
    """How much an act gives to others: cooperation and giving high, taking low."""
    score = 0.0
    if a.cooperative is True:
        score += 2.0
    elif a.cooperative is False:
        score -= 2.0
    if a.take is not None:
        score -= a.take
    if a.gives is not None:
        score += 2.0 * a.gives
    if a.promise == "C" and a.cooperative is None:
        score += 1.0  # giving one's word before the move (cheap talk) is the generous thing to say
    return score


def is_lie(a: Any) -> bool:
    return bool(a.asserts_false or a.misleads or (a.promise == "C" and a.cooperative is False))


def by_generosity(acts: ActSpace, high_first: bool) -> tuple[int, ...]:
    """Acts by generosity (most or least generous first); honest acts before lies either way."""
    sign = -1.0 if high_first else 1.0
    return tuple(
        sorted(range(len(acts)), key=lambda i: (is_lie(acts[i]), sign * generosity(acts[i]), i))
    )


def ranking_numbers(order: np.ndarray, base: int) -> tuple[np.ndarray, Callable[[int], tuple[int, ...]]]:
    """Rankings as numbers, for a policy's ``rank_batch``: row ``k`` of ``order`` (act indices,
    best first, each below ``base``) becomes ``sum(order[k, i] * base**i)``; returns the numbers
    and the ranking of a number."""
    width = order.shape[1] if order.ndim == 2 else 0
    numbers = (order * base ** np.arange(width, dtype=np.int64)).sum(axis=1) if len(order) else \
        np.zeros(0, dtype=np.int64)

    def ranking(number: int) -> tuple[int, ...]:
        return tuple((number // base ** i) % base for i in range(width))

    return np.asarray(numbers, dtype=np.int64), ranking


def stable_ranking_numbers(minus: list[np.ndarray], base: int) -> tuple[np.ndarray, Callable[[int], tuple[int, ...]]]:
    """``ranking_numbers`` of a stable ascending argsort of the columns ``minus`` (one per act),
    without the sort: act ``i`` lands after every act before it that is not larger and every
    act after it that is smaller. A handful of comparisons per act beat numpy's argsort of
    many short rows several times over (the negotiation ranks ~10^5 such rows a step)."""
    width = len(minus)
    n = len(minus[0]) if width else 0
    numbers = np.zeros(n, dtype=np.int64)
    weight = base ** np.arange(width, dtype=np.int64)
    for i in range(1, width):  # act 0 adds nothing wherever it lands
        pos = np.zeros(n, dtype=np.intp)
        for j in range(width):
            if j != i:
                pos += (minus[j] <= minus[i]) if j < i else (minus[j] < minus[i])
        numbers += (i * weight)[pos]

    def ranking(number: int) -> tuple[int, ...]:
        return tuple((number // base ** i) % base for i in range(width))

    return numbers, ranking
