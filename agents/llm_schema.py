"""JSON schemas for structured replies, shared by the act format and the claims field."""

from __future__ import annotations

from typing import Any


def strict_object(properties: dict[str, Any]) -> dict[str, Any]:
    """A JSON-schema object as strict structured output wants it: every property required, no others."""
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}
