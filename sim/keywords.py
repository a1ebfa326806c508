"""Scenario overrides given as Python keyword arguments (Mesa's ``batch_run``, ``parallel_env``).

A dotted path is not a Python name, so ``groups__buyers__count=4`` stands for
``groups.buyers.count``; a dotted key passed through ``**{...}`` is taken as
it is.
"""

from __future__ import annotations

from typing import Any


def keyword_overrides(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Dotted override paths from keyword arguments (``__`` reads as ``.``)."""
    return {k if "." in k else k.replace("__", "."): v for k, v in kwargs.items()}
