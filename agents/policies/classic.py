"""The classic iterated-prisoner's-dilemma strategies.

They follow the axelrod library's strategies of the same name (Axelrod 1980;
Nowak & Sigmund 1993 for win-stay-lose-shift). Observation fields they read:
``my_last``, ``partner_last``, ``partner_last2`` (1 cooperated, 0 defected, -1
none yet), ``partner_defected`` (ever), ``my_last_payoff_good`` (last payoff was
R or T), ``parity`` (rounds played with this partner, mod 2), ``trust`` (trust
in the partner in twentieths, 0..20) and ``coin``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from agents.acts import ActSpace
from agents.errors import SpecboundError
from agents.policies.base import COIN_SIDES, COOPERATED, DEFECTED, NONE, RankingPolicy, policy
from agents.policies.ranking import WithHistory, play


class MovePolicy(RankingPolicy):
    """A strategy that decides only whether to cooperate; the act space supplies the moves."""

    def cooperate(self, obs: Any) -> bool:
        raise NotImplementedError

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        return play(acts, self.cooperate(WithHistory(obs)))


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
        return bool(obs.partner_last != DEFECTED)


@policy("suspicious_tit_for_tat")
class SuspiciousTitForTat(MovePolicy):
    """Defects first, then copies the partner's last move."""

    def cooperate(self, obs: Any) -> bool:
        return bool(obs.partner_last == COOPERATED)


@policy("anti_tit_for_tat")
class AntiTitForTat(MovePolicy):
    """Cooperates first, then does the opposite of the partner's last move."""

    def cooperate(self, obs: Any) -> bool:
        return bool(obs.partner_last != COOPERATED)


@policy("bully")
class Bully(MovePolicy):
    """Reverse tit-for-tat: defects first, then the opposite of the partner's last move."""

    def cooperate(self, obs: Any) -> bool:
        return bool(obs.partner_last == DEFECTED)


@policy("alternator")
class Alternator(MovePolicy):
    """Cooperates first, then flips its own last move."""

    def cooperate(self, obs: Any) -> bool:
        return bool(obs.my_last != COOPERATED)


@policy("cycler_dc")
class CyclerDC(MovePolicy):
    """Plays the cycle D, C, D, C, ... by round number."""

    def cooperate(self, obs: Any) -> bool:
        return bool(obs.parity == 1)


@policy("grudger")
class Grudger(MovePolicy):
    """Cooperates until the partner defects once, then defects forever (Friedman 1971)."""

    def cooperate(self, obs: Any) -> bool:
        return bool(not obs.partner_defected)


@policy("tit_for_two_tats")
class TitForTwoTats(MovePolicy):
    """Defects only after the partner defected in both of the last two rounds."""

    def cooperate(self, obs: Any) -> bool:
        return bool(not (obs.partner_last == DEFECTED and obs.partner_last2 == DEFECTED))


@policy("win_stay_lose_shift")
class WinStayLoseShift(MovePolicy):
    """Pavlov: cooperates first; keeps its move after R or T, switches after S or P."""

    def cooperate(self, obs: Any) -> bool:
        if obs.my_last == NONE:
            return True
        stay = bool(obs.my_last_payoff_good)
        return bool((obs.my_last == COOPERATED) == stay)


@policy("win_shift_lose_stay")
class WinShiftLoseStay(MovePolicy):
    """Anti-Pavlov: defects first; switches its move after R or T, keeps it after S or P."""

    def cooperate(self, obs: Any) -> bool:
        if obs.my_last == NONE:
            return False
        shift = bool(obs.my_last_payoff_good)
        return bool((obs.my_last == COOPERATED) != shift)


@policy("random")
class RandomPolicy(MovePolicy):
    """Cooperates with probability ``p`` (seeded: the engine's coin, in sixteenths)."""

    stochastic = True
    params: ClassVar[dict[str, Any]] = {"p": (int, float)}

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise SpecboundError(f"policy 'random': param 'p' must be in [0, 1], got {p!r}")
        self.p = p

    def cooperate(self, obs: Any) -> bool:
        return bool(obs.coin < round(self.p * COIN_SIDES))


# --- trust-conditioned and environment policies ----------------------------------------
