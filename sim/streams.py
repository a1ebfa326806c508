"""The model's spawned random streams, each made when first read (models built from a template).

Why: ``SpecModel.__init__`` spawns five generators from the seed (matching, decisions, the
environment, detection, the graph). Spawning a child seed sequence is cheap; making its bit
generator and ``Generator`` is most of ``rng.spawn(5)`` (~0.1 ms, a twentieth of a 12-strategy
round robin's ``sim.run``), and a deterministic round robin never draws from four of them.
A copied model (``sim.model_template``) spawns the five child seed sequences as ``spawn(5)``
does (so the seed's spawn count, which later spawns read, is the same) and makes each of the
four model streams on first read, from its own child: the same generator in the same state,
since nothing drew from it before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The model attributes of the first four children, in ``SpecModel.__init__``'s spawn order
#: (the fifth builds the graph).
NAMES = ("rng_match", "rng_decide", "rng_env", "rng_detect")


class Spawned:
    """A model stream made on first read from the model's ``_children`` (a non-data descriptor:
    a model that holds the attribute itself, as ``SpecModel.__init__`` leaves it, never asks)."""

    __slots__ = ("index", "name")

    def __init__(self, index: int) -> None:
        self.index = index
        self.name = NAMES[index]

    def __get__(self, model: Any, owner: type | None = None) -> Any:
        if model is None:
            return self
        children = model.__dict__.get("_children")
        if children is None:
            raise AttributeError(self.name)
        rng = model.__dict__[self.name] = _generator(model, children[self.index])
        return rng


def _generator(model: Any, child: np.random.SeedSequence) -> np.random.Generator:
    """What ``model.rng.spawn`` makes of ``child``: a generator of the seed's bit generator type."""
    return np.random.Generator(type(model.rng.bit_generator)(child))


def spawn_lazily(model: Any) -> np.random.Generator:
    """Spawn the five children as ``model.rng.spawn(5)`` would, keep the four model streams' to be
    made when read, and return the graph's generator (every network build draws from it)."""
    children = model.rng.bit_generator.seed_seq.spawn(5)
    model.__dict__["_children"] = children
    return _generator(model, children[4])
