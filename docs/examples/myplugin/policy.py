"""Policy: ``assurance``, hunt the stag unless the partner went for a hare last time."""

from typing import Any

from agents.acts import ActSpace
from agents.interfaces import RankingPolicy
from agents.policies import policy
from agents.policies.ranking import play


@policy("assurance")
class Assurance(RankingPolicy):
    """Cooperate first and after cooperation; defect after a defection (reads only partner_last)."""

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        # Other environments lack the field: act as on a first meeting. ``play`` finds the
        # cooperative and selfish moves of any act space.
        return play(acts, getattr(obs, "partner_last", -1) != 0)
