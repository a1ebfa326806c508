"""A model copied from a template makes its spawned streams when read (``sim.streams``), as
``SpecModel.__init__`` spawns them: the same generators, the same spawn count."""

from __future__ import annotations

import numpy as np
import pytest

from sim import streams
from sim.model import SpecModel
from sim.model_template import fresh_model
from sim.scenario import load_scenario

pytestmark = pytest.mark.usefixtures("no_templates")


def _copied(seed: int) -> SpecModel:
    sc = load_scenario("ipd-classic", {"steps": 5})
    for _ in range(2):  # the second build takes the template
        fresh_model(sc, seed=0)
    model = fresh_model(sc, seed=seed)
    assert "_children" in model.__dict__, "not a copy of the template"
    return model


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_each_stream_is_the_one_init_spawns(seed: int) -> None:
    anew = SpecModel(load_scenario("ipd-classic", {"steps": 5}), seed=seed)
    copy = _copied(seed)
    assert not any(name in copy.__dict__ for name in streams.NAMES)  # none made yet
    # Read in another order than spawned: each comes from its own child.
    for name in reversed(streams.NAMES):
        made = getattr(copy, name)
        assert getattr(copy, name) is made  # made once, then an attribute
        assert made.bit_generator.state == getattr(anew, name).bit_generator.state
        assert np.array_equal(made.random(4), getattr(anew, name).random(4))
    # Later spawns from the seed (a drawn group joining) get the children ``__init__``'s would.
    assert copy.rng.bit_generator.seed_seq.n_children_spawned == 5
    assert copy.rng.bit_generator.state == anew.rng.bit_generator.state
    assert copy.rng.bit_generator.state == copy._rng  # Mesa's record of the seed's first state
    assert copy.rng.spawn(1)[0].random() == anew.rng.spawn(1)[0].random()


def test_a_released_model_has_no_streams() -> None:
    copy = _copied(0)
    copy.release()
    with pytest.raises(AttributeError):
        copy.rng_env  # noqa: B018


def test_the_graph_stream_is_the_fifth_child_in_its_first_state_each_time() -> None:
    root = np.random.SeedSequence(7)
    first = np.random.Generator(np.random.PCG64(root.spawn(5)[4])).random(3)
    root = np.random.SeedSequence(7)
    for _ in range(3):  # set back before each build, whatever the last one drew
        rng = streams._graph_stream(np.random.PCG64, root, 4)
        assert np.array_equal(rng.random(3), first)
    assert streams._graph_stream(np.random.PCG64, root, 4) is rng  # kept for this thread
    rng.spawn(1)  # a build that spawned from it: its sequence is no longer the child's
    again = streams._graph_stream(np.random.PCG64, root, 4)
    assert again is not rng and again.bit_generator.seed_seq.n_children_spawned == 0
    assert np.array_equal(again.random(3), first)


def test_threads_keep_graph_streams_of_their_own() -> None:
    import threading

    root = np.random.SeedSequence(3)
    mine = streams._graph_stream(np.random.PCG64, root, 4)
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(streams._graph_stream(np.random.PCG64, root, 4)))
    t.start()
    t.join()
    assert theirs[0] is not mine
    assert theirs[0].bit_generator.state == mine.bit_generator.state


@pytest.mark.parametrize("kind", [{"network.kind": "random_regular", "network.degree": 3},
                                  {"network.kind": "lattice", "network.shuffle": True,
                                   "groups.tit_for_tat.count": 5}])
def test_graphs_drawn_by_copies_in_turn_are_their_seeds(kind: dict) -> None:
    sc = load_scenario("ipd-classic", {"steps": 5, **kind})
    for _ in range(2):
        fresh_model(sc, seed=0)
    edges = {seed: fresh_model(sc, seed=seed).edges.copy() for seed in (5, 6)}
    for seed in (5, 6, 5):  # each copy's build sets the kept graph stream back first
        copy = fresh_model(sc, seed=seed)
        assert "_children" in copy.__dict__, "not a copy of the template"
        assert np.array_equal(copy.edges, edges[seed])
        assert np.array_equal(SpecModel(sc, seed=seed).edges, edges[seed])
    assert not np.array_equal(edges[5], edges[6])
