"""Decider keys hold the binding's number (``DecisionTable.decider_ids``): equal bindings share
deciders whichever object is passed, different ones do not; ``Binding`` keeps its key's hash."""

from __future__ import annotations

import pickle

from agents.chain import Binding, Instruction
from agents.spec import Level
from sim.model import SpecModel
from sim.scenario import load_scenario


def _model() -> SpecModel:
    return SpecModel(load_scenario("public-goods-fg", {"groups.cooperators.count": 6,
                                                       "groups.free_riders.count": 2}), seed=0)


def test_equal_bindings_share_deciders() -> None:
    model = _model()
    table = model.decisions
    d = table.deciders[0]
    twin = Binding(d.binding.spec, d.binding.instructions, d.binding.delegations)
    assert twin is not d.binding and twin == d.binding
    before = len(table.deciders)
    ids = table.decider_ids(d.binding, d.policy, d.group)
    assert table.decider_ids(twin, d.policy, d.group) == ids
    assert len(table.deciders) == before  # both found, none made
    assert table.deciders[ids[0]].bid == d.bid


def test_another_binding_makes_new_deciders() -> None:
    """Another instruction list or another spec: new deciders, found again on the second ask."""
    model = _model()
    table = model.decisions
    d = table.deciders[0]
    told = Instruction("extra", "user", Level.USER, "Fine every pledge breaker.", "punishes_breakers")
    other = Binding(d.binding.spec, (*d.binding.instructions, told), d.binding.delegations)
    other_spec = type(d.binding.spec)(**{**{f: getattr(d.binding.spec, f) for f in d.binding.spec.__slots__},
                                         "id": d.binding.spec.id + "-other"})
    for b in (other, Binding(other_spec)):
        assert b != d.binding
        ids = table.decider_ids(b, d.policy, d.group)
        assert all(table.deciders[i].bid != d.bid for i in ids)
        assert table.decider_ids(b, d.policy, d.group) == ids


def test_binding_hash_is_its_keys() -> None:
    model = _model()
    b = model.decisions.deciders[0].binding
    assert hash(b) == hash(b.key) == hash(b)
    copy = pickle.loads(pickle.dumps(b))
    assert copy == b and hash(copy) == hash(b)
