"""The model's spawned random streams, each made when first read (models built from a template).

Why: ``SpecModel.__init__`` spawns five generators from the seed (matching, decisions, the
environment, detection, the graph). Making them is most of ``rng.spawn(5)`` (~0.1 ms, a
twentieth of a 12-strategy round robin's ``sim.run``), and a deterministic round robin never
draws from four of them. A copied model (``sim.model_template``) gets what ``spawn(5)`` leaves
without making the five children: its seed's generator over a seed sequence that counts them
as spawned (the same state and the same spawn count, which later spawns read), each of the four
model streams made on first read from its own child (the same generator in the same state,
since nothing drew from it before), and the graph's stream, which the network's build alone
draws from, kept per thread and seed and set back to its first state before each build.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

#: The model attributes of the first four children, in ``SpecModel.__init__``'s spawn order
#: (the fifth builds the graph).
NAMES = ("rng_match", "rng_decide", "rng_env", "rng_detect")
#: Graph streams kept per thread (by seed); past it they are dropped.
MAX_GRAPH_STREAMS = 16

_local = threading.local()


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


class Children:
    """The children ``root.spawn(n)`` makes when ``start`` were spawned before, each made when
    asked for (as ``SeedSequence.spawn`` makes it)."""

    __slots__ = ("root", "start")

    def __init__(self, root: np.random.SeedSequence, start: int) -> None:
        self.root = root
        self.start = start

    def __getitem__(self, i: int) -> np.random.SeedSequence:
        return _child(self.root, self.start + i)


def _child(root: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    """``root``'s child number ``i``, as ``root.spawn`` makes it."""
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, i), pool_size=root.pool_size)


def _generator(model: Any, child: np.random.SeedSequence) -> np.random.Generator:
    """What ``model.rng.spawn`` makes of ``child``: a generator of the seed's bit generator type."""
    return np.random.Generator(type(model.rng.bit_generator)(child))


def spawn_lazily(model: Any) -> np.random.Generator:
    """Leave the model what ``model.rng.spawn(5)`` would, the four model streams to be made when
    read, and return the graph's generator (every network build draws from it; it must not be
    kept past the build: the next copy's build in this thread sets it back and draws again).

    ``model.rng`` must be as Mesa's set-up leaves it for an integer seed: nothing drawn yet."""
    bits = model.rng.bit_generator
    root = bits.seed_seq
    if type(root) is not np.random.SeedSequence or type(root.entropy) is not int:
        children = model.rng.bit_generator.seed_seq.spawn(5)  # not a seed's: as it was
        model.__dict__["_children"] = children
        return _generator(model, children[4])
    start = root.n_children_spawned
    # The same state (a generator's state depends on the sequence's entropy, key and pool only),
    # over a sequence that has spawned the five.
    model.rng = np.random.Generator(type(bits)(np.random.SeedSequence(
        root.entropy, spawn_key=root.spawn_key, pool_size=root.pool_size, n_children_spawned=start + 5)))
    model.__dict__["_children"] = Children(root, start)
    return _graph_stream(type(bits), root, start + 4)


def _spawned_from(rng: np.random.Generator) -> int:
    seq: Any = rng.bit_generator.seed_seq  # a SeedSequence (``_graph_stream`` made it from one)
    return int(seq.n_children_spawned)


def _graph_stream(bit_type: type, root: np.random.SeedSequence, i: int) -> np.random.Generator:
    """The generator of ``root``'s child ``i`` in its first state: this thread's kept one, set back."""
    kept: dict[tuple[Any, ...], tuple[np.random.Generator, Mapping[str, Any]]] | None = getattr(_local, "graphs", None)
    if kept is None:
        kept = _local.graphs = {}
    key = (bit_type, root.entropy, root.spawn_key, root.pool_size, i)
    got = kept.get(key)
    if got is not None and not _spawned_from(got[0]):
        rng, state = got
        rng.bit_generator.state = state
        return rng
    # None kept yet, or a build spawned from it (its sequence then counts a child): made anew.
    rng = np.random.Generator(bit_type(_child(root, i)))
    if len(kept) >= MAX_GRAPH_STREAMS:
        kept.clear()
    kept[key] = (rng, rng.bit_generator.state)
    return rng
