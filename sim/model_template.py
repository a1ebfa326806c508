"""Fresh models of a scenario built from a template kept per process (``fresh_model``).

Why: a 12-strategy round robin's ``sim.run`` is a few milliseconds, and building its
model was a third of that, in 50-300 us pieces: a policy and a binding per group,
every decider's id and signature (the key of its kept table), the per-agent arrays.
None of these depends on the seed. So the second build of one loaded scenario (the
same ``Scenario`` object: ``sim.load_memo`` hands it out again) takes a template of
the model as ``SpecModel.__init__`` left it, and later builds copy it: the mutable
parts copied (arrays, lists, dicts, the groups' states, an empty decision table with
the template's deciders), the values shared (policies, bindings, deciders and their
signatures). What the seed decides is made anew for every model, as ``__init__``
makes it: Mesa's set-up and generators, the spawned streams, the network, the
environment, its ``setup``.

Only plain models have a template: the attributes of a fresh model are exactly the
ones this module knows how to copy (a new attribute of ``SpecModel`` means none until
it is listed here), no draw shaped the population (drawn policy variants), no
language model, learner, evolution or outcome memory, an environment whose ``setup``
writes nothing but caches, and policies whose state is a plain ``__dict__``, checked
before each copy (a script that edits a policy of a run's model gets a new template).
``tests/test_model_template.py`` compares every shipped scenario's runs built both ways.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import numpy as np

from agents.agent import SpecAgent
from agents.mesa_import import mesa
from agents.trust import PairTable
from scenarios.environment import Environment
from scenarios.ipd import IPD
from sim.decisions import DecisionTable, memoisable
from sim.model import GroupState, SpecModel
from sim.network import Network
from sim.scenario import Scenario

#: Templates kept, by the identity of the scenario they were made from (each holds its scenario).
MAX_TEMPLATES = 8

#: Attributes ``SpecModel.__init__`` gives a model beyond Mesa's, by how a copy gets them.
#: Made for every model as ``__init__`` makes them (the seed's, or state a run changes).
MADE = frozenset({"spec_scenario", "seed", "rng_match", "rng_decide", "rng_env", "rng_detect", "env", "handles",
                  "network", "pairs", "decisions", "log", "script", "series", "totals", "last_metrics",
                  "_step_outcomes", "agent_extra", "_rng_pop"})
#: Values no run changes in place (numbers, flags, tuples, None), shared.
SHARED = frozenset({"phases", "n", "_seq", "_any_fast", "_any_error", "_played_ahead", "_fired_ahead",
                    "may_fast_forward", "evolution", "learning", "memory"})
#: Per-agent arrays, copied.
ARRAYS = frozenset({"group_of", "alive", "payoff", "step_payoff", "delib", "err", "truth_kept", "truth_total",
                    "variant_of"})
#: Containers, copied one level deep (``_copy_containers``).
CONTAINERS = frozenset({"groups", "_group_index", "_variants", "_variant_keys", "_bindings", "_compiled",
                        "decider_of", "llm_groups"})
#: What booking makes at build for its first step (``metrics.prepare``, ``summary_book.prepare``):
#: left to be made on first use, from the copy's own table.
LAZY = frozenset({"_group_layout", "_summary_weights"})
KNOWN = MADE | SHARED | ARRAYS | CONTAINERS
#: ``GroupState``'s fields, in order, as ``_copy_containers`` builds it.
GROUP_FIELDS = ("name", "index", "spec", "policy", "instructions", "delegations", "focal", "mode")
#: Environments' ``setup`` that write nothing a template would copy (no state of the run's own).
PLAIN_SETUPS = (Environment.setup, IPD.setup)

_seen: dict[int, Scenario] = {}
_templates: dict[int, tuple[Scenario, Template | None]] = {}
_mesa_keys: frozenset[str] | None = None
_lock = threading.RLock()


@dataclasses.dataclass(frozen=True, slots=True, repr=False)  # its scenario's repr is pages long
class Template:
    """A fresh model's seed-independent state (see the module's docstring)."""

    scenario: Scenario
    shared: dict[str, Any]
    arrays: dict[str, np.ndarray]
    containers: dict[str, Any]
    table: DecisionTable  # empty; its deciders' signatures computed
    policies: tuple[tuple[Any, dict[str, Any]], ...]  # (policy, its __dict__ when taken)


def fresh_model(scenario: Scenario, seed: int = 0) -> SpecModel:
    """``SpecModel(scenario, seed)``, from the scenario's template when it has one."""
    key = id(scenario)
    kept = _templates.get(key)
    if kept is not None and kept[0] is scenario:
        t = kept[1]
        if t is None:
            return SpecModel(scenario, seed=seed)  # refused: never a template
        if _policies_unchanged(t):
            model = _copy(t, seed)
            if model is not None:
                return model
            _file(key, scenario, None)  # the environment's act spaces are made per instance
            return SpecModel(scenario, seed=seed)
        # A policy was edited since (a script's): a new template, from a model built anew.
        model = SpecModel(scenario, seed=seed)
        _file(key, scenario, _take(model))
        return model
    model = SpecModel(scenario, seed=seed)
    with _lock:
        if _seen.get(key) is scenario:  # its second build: worth a template
            _file(key, scenario, _take(model))
        else:
            if len(_seen) >= MAX_TEMPLATES:
                _seen.clear()
            _seen[key] = scenario
    return model


def _file(key: int, scenario: Scenario, t: Template | None) -> None:
    """File ``t`` (None: the scenario has no template) under the scenario's identity."""
    with _lock:
        if len(_templates) >= MAX_TEMPLATES:
            _templates.clear()
        _templates[key] = (scenario, t)


def _policies_unchanged(t: Template) -> bool:
    return all(p.__dict__ == state for p, state in t.policies)


def _mesa_attributes() -> frozenset[str]:
    """The attributes Mesa's ``Model.__init__`` gives a model (learned once, from a bare one)."""
    global _mesa_keys
    if _mesa_keys is None:
        probe = SpecModel.__new__(SpecModel)
        mesa.Model.__init__(probe, rng=0)
        _mesa_keys = frozenset(probe.__dict__)
        probe.__dict__.clear()
    return _mesa_keys


def _take(model: SpecModel) -> Template | None:
    """The template of a model ``SpecModel.__init__`` just built; None when it cannot have one."""
    d = model.__dict__
    own = set(d) - _mesa_attributes()
    if type(model) is not SpecModel or own - LAZY != KNOWN:
        return None
    table = model.decisions
    policies = [gs.policy for gs in model.groups]
    if (model.evolution is not None or model.learning is not None or model.memory is not None
            or model.llm_groups or model._rng_pop is not None or model.agent_extra
            or any(len(v) != 1 for v in model._variants)
            or type(model.env).setup not in PLAIN_SETUPS
            or tuple(f.name for f in dataclasses.fields(GroupState)) != GROUP_FIELDS
            or not table.pristine()
            or not all(memoisable(p) and hasattr(p, "__dict__") for p in policies)):
        return None
    blank = table.blank(table.codec, table.phases)
    blank.population_key()  # the deciders' signatures, computed once for every copy
    return Template(
        scenario=model.spec_scenario,
        shared={k: d[k] for k in SHARED},
        arrays={k: d[k].copy() for k in ARRAYS},
        containers=_copy_containers(d),
        table=blank,
        policies=tuple((p, dict(p.__dict__)) for p in policies),
    )


def _copy_containers(d: dict[str, Any]) -> dict[str, Any]:
    """``CONTAINERS`` of a model's (or a template's) attributes, copied one level deep."""
    return {
        "groups": [GroupState(g.name, g.index, g.spec, g.policy, list(g.instructions), list(g.delegations),
                              g.focal, g.mode) for g in d["groups"]],
        "_group_index": dict(d["_group_index"]),
        "_variants": [list(v) for v in d["_variants"]],
        "_variant_keys": [list(v) for v in d["_variant_keys"]],
        "_bindings": dict(d["_bindings"]),
        "_compiled": dict(d["_compiled"]),
        "decider_of": [a.copy() for a in d["decider_of"]],
        "llm_groups": set(d["llm_groups"]),
    }


def _copy(t: Template, seed: int) -> SpecModel | None:
    """A model built from ``t`` in ``SpecModel.__init__``'s order of draws; None when the new
    environment's act spaces are not the template's (its table was made for those)."""
    sc = t.scenario
    model = SpecModel.__new__(SpecModel)
    rng_graph = model._seeded(sc, seed, lazy=True)
    d = model.__dict__
    env = model.env
    phases = t.shared["phases"]
    if len(env.phases) != len(phases) or any(a is not b for a, b in zip(env.phases, phases, strict=True)):
        model.__dict__.clear()
        return None
    d.update(t.shared)
    d.update(_copy_containers(t.containers))
    for k, a in t.arrays.items():
        d[k] = a.copy()
    d["agent_extra"] = {}
    d["_rng_pop"] = None
    names = [g.name for g in sc.groups]
    d["handles"] = [SpecAgent(model, i, names[g]) for i, g in enumerate(d["group_of"].tolist())]
    d["network"] = Network(sc.network, t.shared["n"], rng_graph, env.pairwise)
    d["pairs"] = PairTable()
    d["decisions"] = t.table.blank(env.codec, env.phases)
    model._fresh_records(sc)
    env.setup(model)
    return model
