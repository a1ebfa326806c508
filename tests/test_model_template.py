"""Models built from a per-process template (``sim.model_template``) run as models built anew."""

from __future__ import annotations

from typing import Any

import pytest

from sim import model_template
from sim.model import SpecModel
from sim.model_template import Template, fresh_model
from sim.runs.run import result_of
from sim.scenario import load_scenario
from tests.same_runs import RULE_BASED, assert_same_result

pytestmark = pytest.mark.usefixtures("no_templates")  # each test starts with no template


def _result(model: SpecModel) -> Any:
    model.run()
    return result_of(model)


def _template(sc: Any) -> Template | None:
    """The scenario's template (None: refused)."""
    kept, t = model_template._templates[id(sc)]
    assert kept is sc
    return t


def _templated(ref: str, steps: int = 6, overrides: dict[str, Any] | None = None) -> Any:
    sc = load_scenario(ref, {"steps": steps, **(overrides or {})})
    fresh_model(sc, seed=0)
    fresh_model(sc, seed=0)  # the second build takes the template
    return sc


#: Round robins that have a template: copies per strategy, graphs, promises, lengths.
TEMPLATED = [
    {},
    {"groups.tit_for_tat.count": 3, "groups.defector.count": 2},
    {"network.kind": "random_regular", "network.degree": 3},
    {"environment.promises": True, "environment.detect_prob": 0.5},
    {"steps": 40, "environment.T": 7},
]


@pytest.mark.parametrize("overrides", TEMPLATED)
def test_a_round_robin_from_its_template_runs_as_one_built_anew(overrides: dict[str, Any]) -> None:
    sc = _templated("ipd-classic", overrides=overrides)
    assert isinstance(_template(sc), Template)
    for seed in (1, 2):
        assert_same_result(_result(fresh_model(sc, seed=seed)), _result(SpecModel(sc, seed=seed)))


#: The shipped scenarios whose models are copied from a template (the others are built anew).
HAS_TEMPLATE = {"ipd-classic"}


@pytest.mark.parametrize("ref", RULE_BASED)
def test_every_scenario_runs_the_same_built_either_way(ref: str) -> None:
    sc = _templated(ref)  # most have no template: they must be built as before
    assert (_template(sc) is not None) == (ref in HAS_TEMPLATE)  # which side this case compares
    assert_same_result(_result(fresh_model(sc, seed=1)), _result(SpecModel(sc, seed=1)))


def test_plain_scenarios_have_a_template_and_copies_share_no_mutable_state() -> None:
    sc = _templated("ipd-classic")
    assert isinstance(_template(sc), Template)
    a, b = fresh_model(sc, seed=3), fresh_model(sc, seed=3)
    for name in model_template.ARRAYS | model_template.CONTAINERS | {"decisions", "env", "network"}:
        assert getattr(a, name) is not getattr(b, name), name
    assert all(x is not y for x, y in zip(a.groups, b.groups, strict=True))
    assert a.decisions.deciders == b.decisions.deciders  # shared values
    assert a.decisions.population_key() is b.decisions.population_key()
    assert [h.unique_id for h in a.handles] == [h.unique_id for h in SpecModel(sc, seed=3).handles]


def test_drawn_streams_follow_the_seed() -> None:
    sc = _templated("ipd-classic", overrides={"network.kind": "random_regular", "network.degree": 3})
    assert isinstance(_template(sc), Template)
    a, b = fresh_model(sc, seed=5), SpecModel(sc, seed=5)
    for name in ("rng", "rng_match", "rng_decide", "rng_env", "rng_detect"):
        assert getattr(a, name).random() == getattr(b, name).random(), name
    assert (a.edges == b.edges).all()
    assert (fresh_model(sc, seed=6).edges != a.edges).any()  # another seed, another graph
    assert_same_result(_result(fresh_model(sc, seed=7)), _result(SpecModel(sc, seed=7)))


def test_an_edited_policy_is_not_copied_past() -> None:
    sc = _templated("ipd-classic")
    model = fresh_model(sc, seed=0)
    pol = model.groups[0].policy
    pol.__dict__["edited"] = 1  # a script changing a policy of its run's model
    try:
        again = fresh_model(sc, seed=0)  # built anew, and a new template taken from it
        t = _template(sc)
        assert again.groups[0].policy is not pol and t is not None
        assert all(p is not pol for p, _ in t.policies)
        assert fresh_model(sc, seed=0).groups[0].policy is again.groups[0].policy
    finally:
        del pol.__dict__["edited"]


def test_an_attribute_the_template_does_not_know_means_no_template(monkeypatch: pytest.MonkeyPatch) -> None:
    real = SpecModel.__init__

    def more(self: SpecModel, scenario: Any, seed: int = 0) -> None:
        real(self, scenario, seed)
        self.something_new = []

    monkeypatch.setattr(SpecModel, "__init__", more)
    sc = _templated("ipd-classic")
    assert _template(sc) is None
    assert fresh_model(sc, seed=0).something_new == []


def test_learners_and_evolution_have_no_template() -> None:
    for ref in ("ipd-q-learning", "moran-ipd"):
        sc = _templated(ref)
        assert _template(sc) is None, ref
