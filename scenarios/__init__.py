"""Scripted environments, registered by decorator; importing this package registers them all."""

import agents  # noqa: F401  (first: pins numpy's CPU dispatch before numpy loads)
from scenarios import (
    commons,  # noqa: F401
    injection,  # noqa: F401
    ipd,  # noqa: F401
    ipd_talk,  # noqa: F401
    negotiation,  # noqa: F401
    public_goods,  # noqa: F401
    public_goods_fg,  # noqa: F401
    spatial_pd,  # noqa: F401
    tooth_fairy,  # noqa: F401
    trust_game,  # noqa: F401
)
