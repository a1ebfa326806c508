"""Policies: how an agent ranks its candidate acts before the chain of command chooses.

A policy proposes; the spec disposes. ``rank(obs, acts)`` returns act indices,
most preferred first; the resolver then picks the act that best satisfies the
agent's principles and instructions, ties broken by this ranking.

Rule-based policies are pure functions of the observation, which is what lets
the engine memoise decisions per observation key. Randomness enters through
``obs.coin`` (a uniform draw in 0..15 made by the engine), never inside a policy.

The classic iterated-prisoner's-dilemma strategies follow the axelrod library's
strategies of the same name (Axelrod 1980; Nowak & Sigmund 1993 for
win-stay-lose-shift). Observation fields they read: ``my_last``,
``partner_last``, ``partner_last2`` (1 cooperated, 0 defected, -1 none yet),
``partner_defected`` (ever), ``my_last_payoff_good`` (last payoff was R or T),
``parity`` (rounds played with this partner, mod 2), ``trust`` (trust in the
partner in twentieths, 0..20) and ``coin``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from agents.acts import ActSpace
from agents.errors import SpecboundError

NONE, DEFECTED, COOPERATED = -1, 0, 1
COIN_SIDES = 16
TRUST_BUCKETS = 20


class Policy:
    """Base class. Subclasses set ``name`` (by the decorator) and implement ``rank``."""

    name: ClassVar[str] = ""
    memoisable: ClassVar[bool] = True
    stochastic: ClassVar[bool] = False
    params: ClassVar[dict[str, type | tuple[type, ...]]] = {}

    def __init__(self, **params: Any) -> None:
        self.kwargs = dict(params)

    @property
    def key(self) -> tuple:
        return (self.name, tuple(sorted(self.kwargs.items())))

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        raise NotImplementedError


POLICIES: dict[str, type[Policy]] = {}


def policy(name: str) -> Callable[[type[Policy]], type[Policy]]:
    """Register a policy class under ``name``."""

    def register(cls: type[Policy]) -> type[Policy]:
        cls.name = name
        POLICIES[name] = cls
        return cls

    return register


def make_policy(name: str, params: dict[str, Any] | None = None, where: str = "policy") -> Policy:
    """Build a registered policy, validating its parameters (one-line errors)."""
    cls = POLICIES.get(name)
    if cls is None:
        raise SpecboundError(
            f"{where}: unknown policy {name!r}; available: {', '.join(sorted(POLICIES))}"
        )
    params = dict(params or {})
    for k, v in params.items():
        typ = cls.params.get(k)
        if typ is None:
            allowed = ", ".join(sorted(cls.params)) or "none"
            raise SpecboundError(f"{where}: unknown param {k!r} for policy {name!r}; allowed: {allowed}")
        if isinstance(v, bool) or not isinstance(v, typ):
            raise SpecboundError(f"{where}: param {k!r} of policy {name!r} has the wrong type: {v!r}")
    return cls(**params)


# --- helpers ------------------------------------------------------------------------


def _coop_defect(acts: ActSpace) -> tuple[int, int]:
    """The plain cooperate and defect moves of an act space (first of each kind).

    In an act space without cooperation moves (a harvest, an answer) the most
    and least generous honest acts stand in for them, so every strategy
    works in every environment.
    """
    coop = next((i for i, a in enumerate(acts) if a.cooperative is True and not _is_lie(a)), None)
    defect = next((i for i, a in enumerate(acts) if a.cooperative is False and not _is_lie(a)), None)
    if coop is None or defect is None:
        order = _by_generosity(acts, high_first=True)
        honest = [i for i in order if not _is_lie(acts[i])] or list(order)
        coop = honest[0] if coop is None else coop
        defect = honest[-1] if defect is None else defect
    return coop, defect


def _play(acts: ActSpace, cooperate: bool) -> tuple[int, ...]:
    c, d = _coop_defect(acts)
    if c == d:
        return (c,)
    return (c, d) if cooperate else (d, c)


_HISTORY_DEFAULTS = {"my_last": NONE, "partner_last": NONE, "partner_last2": NONE,
                     "partner_defected": 0, "my_last_payoff_good": 0, "parity": 0,
                     "trust": TRUST_BUCKETS // 2, "coin": 0}


class _WithHistory:
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
            if name in _HISTORY_DEFAULTS:
                return _HISTORY_DEFAULTS[name]
            raise


class MovePolicy(Policy):
    """A strategy that decides only whether to cooperate; the act space supplies the moves."""

    def cooperate(self, obs: Any) -> bool:
        raise NotImplementedError

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        return _play(acts, self.cooperate(_WithHistory(obs)))


# --- the classic deterministic IPD strategies ----------------------------------------


@policy("cooperator")
class Cooperator(MovePolicy):
    """Always cooperates."""

    def cooperate(self, obs: Any) -> bool:
        return True


@policy("defector")
class Defector(MovePolicy):
    """Always defects."""

    def cooperate(self, obs: Any) -> bool:
        return False


@policy("tit_for_tat")
class TitForTat(MovePolicy):
    """Cooperates first, then copies the partner's last move (Rapoport, Axelrod 1980)."""

    def cooperate(self, obs: Any) -> bool:
        return obs.partner_last != DEFECTED


@policy("suspicious_tit_for_tat")
class SuspiciousTitForTat(MovePolicy):
    """Defects first, then copies the partner's last move."""

    def cooperate(self, obs: Any) -> bool:
        return obs.partner_last == COOPERATED


@policy("anti_tit_for_tat")
class AntiTitForTat(MovePolicy):
    """Cooperates first, then does the opposite of the partner's last move."""

    def cooperate(self, obs: Any) -> bool:
        return obs.partner_last != COOPERATED


@policy("bully")
class Bully(MovePolicy):
    """Reverse tit-for-tat: defects first, then the opposite of the partner's last move."""

    def cooperate(self, obs: Any) -> bool:
        return obs.partner_last == DEFECTED


@policy("alternator")
class Alternator(MovePolicy):
    """Cooperates first, then flips its own last move."""

    def cooperate(self, obs: Any) -> bool:
        return obs.my_last != COOPERATED


@policy("cycler_dc")
class CyclerDC(MovePolicy):
    """Plays the cycle D, C, D, C, ... by round number."""

    def cooperate(self, obs: Any) -> bool:
        return obs.parity == 1


@policy("grudger")
class Grudger(MovePolicy):
    """Cooperates until the partner defects once, then defects forever (Friedman 1971)."""

    def cooperate(self, obs: Any) -> bool:
        return not obs.partner_defected


@policy("tit_for_two_tats")
class TitForTwoTats(MovePolicy):
    """Defects only after the partner defected in both of the last two rounds."""

    def cooperate(self, obs: Any) -> bool:
        return not (obs.partner_last == DEFECTED and obs.partner_last2 == DEFECTED)


@policy("win_stay_lose_shift")
class WinStayLoseShift(MovePolicy):
    """Pavlov: cooperates first; keeps its move after R or T, switches after S or P."""

    def cooperate(self, obs: Any) -> bool:
        if obs.my_last == NONE:
            return True
        stay = bool(obs.my_last_payoff_good)
        return (obs.my_last == COOPERATED) == stay


@policy("win_shift_lose_stay")
class WinShiftLoseStay(MovePolicy):
    """Anti-Pavlov: defects first; switches its move after R or T, keeps it after S or P."""

    def cooperate(self, obs: Any) -> bool:
        if obs.my_last == NONE:
            return False
        shift = bool(obs.my_last_payoff_good)
        return (obs.my_last == COOPERATED) != shift


@policy("random")
class RandomPolicy(MovePolicy):
    """Cooperates with probability ``p`` (seeded: the engine's coin, in sixteenths)."""

    stochastic = True
    params: ClassVar[dict[str, Any]] = {"p": (int, float)}

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=p)
        if not 0.0 <= p <= 1.0:
            raise SpecboundError(f"policy 'random': param 'p' must be in [0, 1], got {p!r}")
        self.p = p

    def cooperate(self, obs: Any) -> bool:
        return obs.coin < round(self.p * COIN_SIDES)


# --- trust-conditioned and environment policies ----------------------------------------


def _trust_ok(obs: Any, threshold: float) -> bool:
    # Trust is observed in twentieths; the threshold is compared at that resolution.
    return obs.trust >= round(threshold * TRUST_BUCKETS)


@policy("reciprocal")
class Reciprocal(Policy):
    """Cooperates (keeping its word) while trust in the partner is at least ``threshold``.

    Below the threshold it defects openly. In games with investment it sends
    or returns generously when trust is high, little when it is low.
    """

    params: ClassVar[dict[str, Any]] = {"threshold": (int, float)}

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__(threshold=threshold)
        self.threshold = threshold

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        generous = _trust_ok(_WithHistory(obs), self.threshold)
        return _by_generosity(acts, high_first=generous)


@policy("opportunist")
class Opportunist(Policy):
    """Exploits: promises cooperation and defects when it can, else defects openly."""

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        betray = [i for i, a in enumerate(acts) if a.promise == "C" and a.cooperative is False]
        rest = _by_generosity(acts, high_first=False)
        return tuple(betray) + tuple(i for i in rest if i not in betray)


@policy("greedy")
class Greedy(Policy):
    """Maximises its own immediate take: most selfish act first."""

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        return _by_generosity(acts, high_first=False)


@policy("sustainable")
class Sustainable(Policy):
    """Takes its sustainable share of a resource; otherwise cooperates."""

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        takes = [(i, a.take) for i, a in enumerate(acts) if a.take is not None]
        if takes:
            # Closest to the sustainable share (1.0), preferring less over more.
            return tuple(i for i, t in sorted(takes, key=lambda it: (abs(it[1] - 1.0), it[1])))
        return _by_generosity(acts, high_first=True)


@policy("conditional")
class Conditional(Policy):
    """Sustainable while others are; matches over-use once it sees it (GovSim's free-rider test)."""

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        if getattr(obs, "others_overused", 0):
            return Greedy().rank(obs, acts)
        return Sustainable().rank(obs, acts)


def _generosity(a: Any) -> float:
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
    return score


def _is_lie(a: Any) -> bool:
    return bool(a.asserts_false or a.misleads or (a.promise == "C" and a.cooperative is False))


def _by_generosity(acts: ActSpace, high_first: bool) -> tuple[int, ...]:
    """Acts by generosity (most or least generous first); honest acts before lies either way."""
    sign = -1.0 if high_first else 1.0
    return tuple(
        sorted(range(len(acts)), key=lambda i: (_is_lie(acts[i]), sign * _generosity(acts[i]), i))
    )
from agents import policies_extra  # noqa: E402,F401
