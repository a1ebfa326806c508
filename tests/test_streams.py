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
    assert copy.rng.spawn(1)[0].random() == anew.rng.spawn(1)[0].random()


def test_a_released_model_has_no_streams() -> None:
    copy = _copied(0)
    copy.release()
    with pytest.raises(AttributeError):
        copy.rng_env  # noqa: B018
