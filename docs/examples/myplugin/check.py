"""Check: ``no_hare_after_stag``, never abandon a partner who hunted the stag last time."""

from typing import Any

from agents.acts import Act
from agents.checks import check


@check("no_hare_after_stag")
def no_hare_after_stag(obs: Any, act: Act) -> bool | None:
    """After the partner hunted the stag, hunt it too (does not apply elsewhere)."""
    if getattr(obs, "partner_last", None) != 1 or act.cooperative is None:
        return None  # no such field, or no cooperation move: the principle does not apply
    return bool(act.cooperative)
