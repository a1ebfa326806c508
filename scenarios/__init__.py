"""Scripted environments, registered by decorator; importing this package registers them all."""

from scenarios import (
    ipd,  # noqa: F401
    negotiation,  # noqa: F401
)
