"""SpecModel: the Mesa model that runs a scenario.

Each step: due script events fire; the environment matches partners over the
network, agents observe, policies rank their acts, the chain of command
chooses, the environment settles payoffs and reveals truth, trust updates,
and metrics are collected.

Speed comes from one idea: a decision is a pure function of (the agent's
binding, its policy, the observation code). The model keeps a decision table
per phase mapping that key to a *cell* (the resolver's choice with and
without deliberation) and every (cell, act) to an *outcome* whose
consequences (conflicts, violations, compliance per principle...) are
computed once. A step is then array look-ups and ``bincount``s, whatever the
population size; only keys never seen before go through Python.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import os
from collections.abc import Callable, Sequence
from typing import Any

import mesa
import networkx as nx
import numpy as np

from agents.acts import Act, ActSpace
from agents.agent import SpecAgent
from agents.chain import Binding, ConflictEvent, Delegation, Instruction
from agents.checks import applies_to, evaluate
from agents.errors import ScenarioError
from agents.policies import Policy, make_policy
from agents.readset import fields_read, recording
from agents.spec import Level, Spec, freeze_params, patch_spec
from agents.trust import PairTable
from scenarios.environment import Environment, get_environment
from sim import metrics as M
from sim.evolution import Evolution
from sim.lattice import lattice_graph
from sim.learning import Learning, is_learner, tier_of
from sim.population import draw_population, draws_of, typical_params
from sim.scenario import PRINCIPALS, Scenario, ScriptEvent

LEVELS = len(Level)
MAX_EVENT_ROWS = 200_000
DENSE_TABLE_LIMIT = 1 << 22
#: Share a cell between observation codes that agree on every field its decision read (see
#: ``_cell_of``). A switch only so tests can check it against computing every cell.
MEMO_READS = True


@dataclasses.dataclass(slots=True)
class _GroupState:
    name: str
    index: int
    spec: Spec
    policy: Policy | Any
    instructions: list[Instruction]
    delegations: list[Delegation]
    focal: bool
    mode: str


@dataclasses.dataclass(slots=True)
class _Decider:
    binding: Binding
    policy: Any
    phase: int
    group: int = 0  # a decider's policy belongs to one group: its outcomes count for that group


class _ReadSet:
    """A decider's cells whose decision read exactly the fields ``index``, by those fields' values."""

    __slots__ = ("cells", "index", "values")

    def __init__(self, index: tuple[int, ...]) -> None:
        self.index = index  # field positions in the observation, in field order
        self.cells: dict[Any, int] = {}
        # The key of an observation: its values at ``index`` (an itemgetter: this runs for
        # every key missing from the dense table). One field gives a bare value, none ().
        self.values: Callable[[Any], Any] = (
            operator.itemgetter(*index) if index else _no_values)


class SpecModel(mesa.Model):
    """A scenario's population, network, environment and bookkeeping.

    Args:
        scenario: a loaded :class:`sim.scenario.Scenario`.
        seed: the only source of randomness (``rng=`` to Mesa); separate
            streams are spawned from it for matching, decisions, the
            environment and truth detection, so changing how often one is
            drawn (say, deliberation) leaves the others' draws unchanged.
    """

    def __init__(self, scenario: Scenario, seed: int = 0) -> None:
        super().__init__(rng=int(seed))
        self.spec_scenario = scenario
        self.seed = int(seed)
        self.t = 0
        rng_match, rng_decide, rng_env, rng_detect, rng_graph = self.rng.spawn(5)
        self.rng_match, self.rng_decide, self.rng_env, self.rng_detect = (
            rng_match, rng_decide, rng_env, rng_detect)

        env_cls = get_environment(scenario.environment)
        self.env: Environment = env_cls(scenario.env_params, self)
        self.phases: tuple[ActSpace, ...] = tuple(self.env.phases)

        # --- groups and agents -------------------------------------------------------
        self.groups: list[_GroupState] = []
        self._seq = 0
        for gi, g in enumerate(scenario.groups):
            spec = scenario.library.get(g.spec)
            pol = self._make_policy(g)
            instrs = [self._instruction(dict(d), f"{g.name}.instructions[{k}]")
                      for k, d in enumerate(g.instructions)]
            self.groups.append(_GroupState(g.name, gi, spec, pol, instrs, [], g.focal, g.mode))
        self._group_index = {gs.name: gs.index for gs in self.groups}
        n = sum(g.count for g in scenario.groups)
        self.n = n
        self.group_of = np.repeat(np.arange(len(scenario.groups), dtype=np.int32),
                                  [g.count for g in scenario.groups])
        self.alive = np.ones(n, dtype=bool)
        self.payoff = np.zeros(n, dtype=np.float64)
        self.step_payoff = np.zeros(n, dtype=np.float64)
        self.delib = np.array([scenario.groups[g].deliberation for g in self.group_of], dtype=float)
        self.err = np.array([scenario.groups[g].error_rate for g in self.group_of], dtype=float)
        self.truth_kept = np.zeros(n)
        self.truth_total = np.zeros(n)
        self.agent_extra: dict[int, list[Instruction]] = {}
        self.handles = [SpecAgent(self, i, scenario.groups[self.group_of[i]].name) for i in range(n)]
        # Heterogeneous groups: each agent plays one of its group's policy variants
        # (parameters drawn per agent, sim/population.py); a plain group has one.
        self._variants: list[list[Any]] = [[gs.policy] for gs in self.groups]
        self._variant_keys: list[list[str]] = [[""] for _ in self.groups]
        self.variant_of = np.zeros(n, dtype=np.int64)
        self._rng_pop: np.random.Generator | None = None
        start = 0
        for g in scenario.groups:
            self.variant_of[start:start + g.count] = self._draw_variants(self._group_index[g.name], g.count)
            start += g.count

        # --- network -----------------------------------------------------------------------
        self.graph = build_graph(scenario.network, n, rng_graph)
        self.graph_version = 0
        self._edges: np.ndarray | None = None
        self._edge_agents: tuple[int, np.ndarray, np.ndarray] | None = None
        self.pairs = PairTable()

        # --- decisions ----------------------------------------------------------------------
        self._bindings: dict[Binding, Binding] = {}
        self._compiled: dict[tuple, Binding] = {}
        self._decider_ids: dict[Any, int] = {}
        self._deciders: list[_Decider] = []
        self.decider_of = [np.zeros(n, dtype=np.int64) for _ in self.phases]
        self._luts: list[np.ndarray | None] = [None for _ in self.phases]
        self._cell_dicts: list[dict[int, int]] = [{} for _ in self.phases]
        # Per decider (deciders are per phase): the read-sets of its cells, tried on a table miss.
        self._memo_reads = MEMO_READS
        self._read_sets: dict[int, list[_ReadSet]] = {}
        self._cells = _Growable({"full": np.int32, "root": np.int32, "base": np.int64, "tier": np.int64})
        self._outcomes = _Growable({"nconf": np.int32, "violation": np.int8, "deception": np.int8,
                                    "covert": np.int8, "coop": np.int8, "injected": np.int8,
                                    "group": np.int32})
        self._outcome_conflicts: list[tuple[ConflictEvent, ...]] = []
        self._outcome_acts: list[str] = []
        self._comp = _Flat(("outcome", "principle", "held", "level"))
        self._conf = _Flat(("outcome", "pair"))
        self.principle_ids: list[str] = []
        self._pidx: dict[str, int] = {}
        self._refresh_deciders(np.arange(n))
        self._any_fast = bool((self.delib < 1.0).any())
        self._any_error = bool((self.err > 0.0).any())
        self._llm = self._llm_groups()

        # --- bookkeeping ---------------------------------------------------------------------
        self._step_outcomes: list[np.ndarray] = []
        self._event_chunks: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._event_rows = 0
        self.script_log: list[dict[str, Any]] = []
        self.series: dict[str, list[float]] = {}
        self.totals = M.Totals()
        #: Play stretches of plain IPD steps fused (same results; see ``run``).
        self.fuse = os.environ.get("SPECBOUND_FUSE", "1") != "0"
        self.last_metrics: dict[str, float] = {}
        self._fired: set[int] = set()
        self.events_truncated = 0
        # Imitation or Moran updates every few steps (sim.evolution), if the scenario asks;
        # learners' state and the spec's overrides of their favourites (sim.learning).
        self.evolution = Evolution(self, scenario.evolution) if scenario.evolution else None
        self.learning = Learning(self) if any(is_learner(gs.policy) for gs in self.groups) else None
        self.env.setup(self)

    # ------------------------------------------------------------------------------------------
    # construction helpers
    # ------------------------------------------------------------------------------------------
    def _make_policy(self, g: Any) -> Any:
        if g.policy == "llm":
            from agents.llm import make_llm_policy

            pol = make_llm_policy(dict(g.llm), f"groups.{g.name}.llm")
            pol.judging = pol.judge is not None and g.mode == "audit"  # judged only in audit mode
            return pol
        where = f"groups.{g.name}.params"
        return make_policy(g.policy, typical_params(dict(g.params), where), f"groups.{g.name}.policy")

    def _instruction(self, d: dict[str, Any], where: str) -> Instruction:
        self._seq += 1
        source = d["source"]
        claimed = Level.parse(d["claimed"]) if "claimed" in d else Level.NONE
        return Instruction(
            id=str(d.get("id") or f"{source}-{self._seq}"),
            source=source,
            level=PRINCIPALS.get(source, Level.NONE),
            text=str(d.get("text", "")),
            check=d.get("check"),
            params=freeze_params(dict(d.get("params", ()))),
            overrides=tuple(d.get("overrides", ())),
            seq=self._seq,
            claimed=claimed,
        )

    def _llm_groups(self) -> set[int]:
        return {gs.index for gs in self.groups if not gs.policy.memoisable}

    # ------------------------------------------------------------------------------------------
    # bindings and deciders
    # ------------------------------------------------------------------------------------------
    def binding_of(self, i: int) -> Binding:
        gs = self.groups[self.group_of[i]]
        instrs = tuple(gs.instructions) + tuple(self.agent_extra.get(int(i), ()))
        return self._intern(gs.spec, instrs, tuple(gs.delegations))

    def policy_of(self, i: int) -> Any:
        return self._variants[self.group_of[i]][self.variant_of[i]]

    def _draw_variants(self, g: int, count: int) -> np.ndarray:
        """Each of ``count`` new agents' policy variant in group ``g`` (drawn if its params ask)."""
        gspec = self.spec_scenario.groups[g]
        params = dict(gspec.params)
        if count == 0 or gspec.policy == "llm" or not draws_of(params, f"groups.{gspec.name}.params"):
            return np.zeros(count, dtype=np.int64)
        if self._rng_pop is None:
            # Spawned only when some group is heterogeneous: other streams are unaffected.
            self._rng_pop = self.rng.spawn(1)[0]
        sets, idx = draw_population(params, count, self._rng_pop, f"groups.{gspec.name}.params")
        keys, pols = self._variant_keys[g], self._variants[g]
        if keys == [""]:
            keys.clear()
            pols.clear()
        mapped = []
        for ps in sets:
            key = repr(sorted(ps.items()))
            if key not in keys:
                keys.append(key)
                pols.append(make_policy(gspec.policy, ps, f"groups.{gspec.name}.policy"))
            mapped.append(keys.index(key))
        self.groups[g].policy = pols[0]
        return np.asarray(mapped, dtype=np.int64)[idx]

    def _intern(self, spec: Spec, instrs: tuple[Instruction, ...], dels: tuple[Delegation, ...]) -> Binding:
        inputs = (spec, instrs, dels)
        b = self._compiled.get(inputs)
        if b is None:
            b = Binding(spec, instrs, dels)
            # Bindings compare by what decides (Binding.key): those that decide alike share
            # one object, so one memo and one row of the decision tables.
            b = self._compiled[inputs] = self._bindings.setdefault(b, b)
        return b

    def _decider_ids_of(self, b: Binding, g: int, v: int = 0, policy: Any = None) -> tuple[int, ...]:
        """The decider of (binding, group policy variant, or ``policy``) in each phase, made on first use."""
        pol = self._variants[g][v] if policy is None else policy
        ids = []
        for ph in range(len(self.phases)):
            dkey = (b.key, id(pol), ph)
            did = self._decider_ids.get(dkey)
            if did is None:
                did = self._decider_ids[dkey] = len(self._deciders)
                self._deciders.append(_Decider(b, pol, ph, g))
                for c in b.constraints:
                    if c.kind == "principle" and c.check is not None and c.id not in self._pidx:
                        self._pidx[c.id] = len(self.principle_ids)
                        self.principle_ids.append(c.id)
            ids.append(did)
        return tuple(ids)

    def _refresh_deciders(self, agents: np.ndarray) -> None:
        """Recompute the decider of ``agents`` after their spec or instructions changed."""
        agents = np.asarray(agents, dtype=np.int64)
        own = np.array([int(i) in self.agent_extra for i in agents], dtype=bool) if self.agent_extra \
            else np.zeros(len(agents), dtype=bool)
        # Agents without instructions of their own decide as their group does: one assignment each.
        plain = agents[~own]
        for g in np.unique(self.group_of[plain]).tolist():
            in_group = plain[self.group_of[plain] == g]
            gs = self.groups[g]
            b = self._intern(gs.spec, tuple(gs.instructions), tuple(gs.delegations))
            for v in np.unique(self.variant_of[in_group]).tolist():
                members = in_group[self.variant_of[in_group] == v]
                for ph, did in enumerate(self._decider_ids_of(b, g, v)):
                    self.decider_of[ph][members] = did
        for i in agents[own].tolist():
            ids = self._decider_ids_of(self.binding_of(i), int(self.group_of[i]), int(self.variant_of[i]))
            for ph, did in enumerate(ids):
                self.decider_of[ph][i] = did

    # ------------------------------------------------------------------------------------------
    # the one path to a decision
    # ------------------------------------------------------------------------------------------
    def decide(
        self,
        agents: np.ndarray,
        codes: np.ndarray,
        partners: np.ndarray | None = None,
        phase: int = 0,
        context: Any = None,
    ) -> np.ndarray:
        """Choose an act for each (agent, observation code), through the chain of command.

        Args:
            agents: agent indices.
            codes: observation codes from the environment's codec, one per agent.
            partners: the partner of each decision (for events), or None.
            phase: which of the environment's act spaces the decision is in.
            context: per-decision extras for language-model agents (peer
                messages, tool data), a callable ``context(k) -> dict``.

        Returns:
            Act indices into ``self.phases[phase]``.
        """
        agents = np.asarray(agents, dtype=np.int64)
        codes = np.asarray(codes, dtype=np.int64)
        m = len(agents)
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        acts = self.phases[phase]
        cells = self._cells_for(phase, self.decider_of[phase][agents], codes)
        chosen = self._cells.arr["full"][cells].astype(np.int64)
        if self.learning is not None:
            chosen = self.learning.choose(self, agents, codes, cells, chosen, phase)
        if self._any_fast:
            fast = self.rng_decide.random(m) >= self.delib[agents]
            chosen = np.where(fast, self._cells.arr["root"][cells], chosen)
        if self._any_error:
            slip = self.rng_decide.random(m) < self.err[agents]
            if slip.any():
                chosen[slip] = self.rng_decide.integers(0, len(acts), int(slip.sum()))
        if self._llm:
            chosen = self._llm_decide(agents, codes, partners, phase, cells, chosen, context)
        chosen = self.steer(agents, codes, partners, phase, cells, chosen)
        outcome = self._cells.arr["base"][cells] + chosen
        self._step_outcomes.append(outcome)
        self._log_conflicts(agents, partners, outcome)
        return chosen

    def steer(self, agents: np.ndarray, codes: np.ndarray, partners: np.ndarray | None, phase: int,
              cells: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """The last say over the acts chosen before they are booked; here it keeps them.

        The seam through which ``sim.external.ExternalModel`` lets outside
        learners act: what it returns is booked like any decision (conflicts,
        compliance, metrics).
        """
        return chosen

    def _cells_for(self, phase: int, dec: np.ndarray, codes: np.ndarray) -> np.ndarray:
        space = self.env.codec.space
        keys = dec * space + codes
        lut = self._luts[phase]
        need = len(self._deciders) * space
        if need <= DENSE_TABLE_LIMIT:
            if lut is None or len(lut) < need:
                # Doubling (up to the limit) so that deciders added by events rarely regrow it.
                # Entries are cell + 1, so 0 means missing and the table starts as zeroed pages
                # the OS hands out lazily: only the pages keys land on are ever touched.
                grown = np.zeros(min(max(need, 2 * (0 if lut is None else len(lut))), DENSE_TABLE_LIMIT),
                                 dtype=np.int32)
                if lut is not None:
                    grown[: len(lut)] = lut
                lut = self._luts[phase] = grown
            cells = lut[keys]
            miss = cells == 0
            if miss.any():
                for k in np.unique(keys[miss]):
                    lut[k] = self._cell_of(phase, int(k // space), int(k % space)) + 1
                cells = lut[keys]
            return cells.astype(np.int64) - 1
        uniq, inv = np.unique(keys, return_inverse=True)
        table = self._cell_dicts[phase]
        ids = np.empty(len(uniq), dtype=np.int64)
        for n_, k in enumerate(uniq.tolist()):
            c = table.get(k)
            if c is None:
                c = table[k] = self._cell_of(phase, k // space, k % space)
            ids[n_] = c
        return ids[inv]

    def _cell_of(self, phase: int, decider: int, code: int) -> int:
        """The cell of a (decider, code) key the tables do not hold yet.

        A cell is a pure function of the fields its computation read, so a code agreeing
        with an earlier one on those fields gets that cell: no new cell, no new outcomes.
        Only a code matching none of the decider's read-sets is computed, on a proxy that
        records its reads. Language-model policies are not pure: always computed.
        """
        d = self._deciders[decider]
        obs = self.env.codec.decode(code)
        if not (self._memo_reads and _memoisable(d.policy)):
            return self._new_cell(phase, decider, obs)
        known = self._read_sets.setdefault(decider, [])
        for rs in known:
            cell = rs.cells.get(rs.values(obs))
            if cell is not None:
                return cell
        seen = recording(obs)
        cell = self._new_cell(phase, decider, seen)
        self._remember(known, obs, fields_read(seen), cell)
        return cell

    def _remember(self, known: list[_ReadSet], obs: Any, read: frozenset[str], cell: int) -> None:
        """File ``cell`` under its read-set (created on first use) and ``obs``'s values there."""
        index = tuple(i for i, f in enumerate(self.env.codec.fields) if f in read)
        rs = next((r for r in known if r.index == index), None)
        if rs is None:
            rs = _ReadSet(index)
            known.append(rs)
        rs.cells[rs.values(obs)] = cell

    def _new_cell(self, phase: int, decider: int, obs: Any) -> int:
        """Compute a cell and its outcomes; ``obs`` may be a recording proxy (see ``_cell_of``)."""
        d = self._deciders[decider]
        acts = self.phases[phase]
        ranking = tuple(d.policy.rank(obs, acts)) if _memoisable(d.policy) else ()
        full = d.binding.decide(obs, acts, ranking)
        root = d.binding.decide(obs, acts, ranking, root_only=True)
        base = len(self._outcomes)
        # Why an act other than the resolver's choice was played: a language model chose it,
        # or a rule-based agent acted on its policy alone (no deliberation) or slipped.
        by = ("acted without deliberation or by error" if _memoisable(d.policy)
              else "chosen by the language model")
        for a in range(len(acts)):
            self._add_outcome(d.binding, obs, acts, a, full, by, d.group)
        tier = tier_of(d.binding, obs, acts, ranking) if is_learner(d.policy) else 1 << full.act
        return self._cells.append(full=full.act, root=root.act, base=base, tier=tier)

    def _add_outcome(self, binding: Binding, obs: Any, acts: ActSpace, a: int, full: Any,
                     by: str, group: int) -> None:
        act = acts[a]
        oid = len(self._outcomes)
        if a == full.act:
            verdicts = full.verdicts
            conflicts = full.conflicts
        else:
            verdicts = tuple(
                None if c.check is None or not applies_to(c.check, c.params, acts)
                else evaluate(c.check, c.params, obs, act)
                for c in binding.constraints
            )
            chosen = acts[full.act].name
            conflicts = tuple(
                ConflictEvent(None, None, None, c.id, c.level, c.source, act.name,
                              f"{by}; the chain of command chose {chosen!r}")
                for c, v in zip(binding.constraints, verdicts, strict=True) if v is False
            )
        violation = any(v is False and c.level >= Level.SYSTEM
                        for c, v in zip(binding.constraints, verdicts, strict=True))
        for c, v in zip(binding.constraints, verdicts, strict=True):
            if v is not None and c.kind == "principle" and c.id in self._pidx:
                self._comp.append(outcome=oid, principle=self._pidx[c.id], held=int(v), level=int(c.level))
        for ev in conflicts:
            w = int(ev.winner_level) if ev.winner_level is not None else 0
            self._conf.append(outcome=oid, pair=w * LEVELS + int(ev.loser_level))
        self._outcomes.append(
            nconf=len(conflicts), violation=int(violation), deception=int(is_deception(act)),
            covert=int(bool(act.serves) and act.denies),
            coop=-1 if act.cooperative is None else int(act.cooperative),
            injected=int("injected" in act.serves), group=group,
        )
        self._outcome_conflicts.append(conflicts)
        self._outcome_acts.append(act.name)

    def _llm_decide(self, agents, codes, partners, phase, cells, chosen, context) -> np.ndarray:
        from agents.llm import DecisionRequest, audit_choice

        sel = np.flatnonzero(np.isin(self.group_of[agents], list(self._llm)))
        if len(sel) == 0:
            return chosen
        acts = self.phases[phase]
        reqs = []
        for k in sel.tolist():
            i = int(agents[k])
            obs = self.env.codec.decode(int(codes[k]))
            extra = context(k) if context is not None else {}
            reqs.append(DecisionRequest(
                agent=i, group=self.groups[self.group_of[i]].name, step=self.t,
                binding=self.binding_of(i), acts=acts, candidates=tuple(range(len(acts))),
                observation=self.env.render(obs), peer_messages=tuple(extra.get("peer_messages", ())),
                tool_data=tuple(extra.get("tool_data", ())),
                fallback=int(self._cells.arr["full"][cells[k]]),
            ))
        by_group: dict[int, list[int]] = {}
        for n_, k in enumerate(sel.tolist()):
            by_group.setdefault(int(self.group_of[agents[k]]), []).append(n_)
        chosen = chosen.copy()
        for g, idx in by_group.items():
            gs = self.groups[g]
            answers = gs.policy.choose_many([reqs[n_] for n_ in idx])
            for n_, ans in zip(idx, answers, strict=True):
                k = int(sel[n_])
                act = int(ans.act)
                for ev in ans.events:
                    self._script_event(str(ev.get("kind", "llm")), int(agents[k]), dict(ev))
                obs = self.env.codec.decode(int(codes[k]))
                # The resolver's choice with the model's act ranked first: it keeps the
                # model's act whenever the rules allow, so enforcement changes no more than it must.
                ranking = (act, *(i for i in range(len(acts)) if i != act))
                resolved = reqs[n_].binding.decide(obs, acts, ranking).act
                replace = audit_choice(reqs[n_].binding, obs, acts, act, resolved, gs.mode)
                if replace is not None:
                    self._script_event("blocked", int(agents[k]), {
                        "act": acts[act].name, "replaced_by": acts[replace].name})
                    act = replace
                chosen[k] = act
        return chosen

    def _log_conflicts(self, agents: np.ndarray, partners: np.ndarray | None, outcome: np.ndarray) -> None:
        has = self._outcomes.arr["nconf"][outcome] > 0
        if not has.any():
            return
        rows = int(self._outcomes.arr["nconf"][outcome[has]].sum())
        if self._event_rows + rows > MAX_EVENT_ROWS:
            self.events_truncated += rows
            return
        self._event_rows += rows
        p = partners[has] if partners is not None else np.full(int(has.sum()), -1)
        self._event_chunks.append((self.t, agents[has], np.asarray(p), outcome[has]))

    # ------------------------------------------------------------------------------------------
    # services for environments
    # ------------------------------------------------------------------------------------------
    @property
    def edges(self) -> np.ndarray:
        """Undirected edges among living agents, as an (E, 2) array (cached per graph version)."""
        if self._edges is None:
            e = np.array(list(self.graph.edges()), dtype=np.int64).reshape(-1, 2)
            if len(e):
                e = np.sort(e, axis=1)
                e = e[np.lexsort((e[:, 1], e[:, 0]))]
                e = e[self.alive[e[:, 0]] & self.alive[e[:, 1]]]
            self._edges = e
        return self._edges

    def edge_agents(self) -> tuple[np.ndarray, np.ndarray]:
        """(agents, partners) for both sides of every edge: [i; j] and [j; i] (cached)."""
        if self._edge_agents is None or self._edge_agents[0] != self.graph_version:
            e = self.edges
            self._edge_agents = (self.graph_version, np.concatenate([e[:, 0], e[:, 1]]),
                                 np.concatenate([e[:, 1], e[:, 0]]))
        return self._edge_agents[1], self._edge_agents[2]

    def graph_changed(self) -> None:
        self._edges = None
        self.graph_version += 1

    def add_payoff(self, agents: np.ndarray, amounts: np.ndarray) -> None:
        """Credit payoffs (summed per agent; agents may repeat)."""
        self.step_payoff += np.bincount(agents, weights=amounts, minlength=len(self.payoff))

    def record_truth(self, agents: np.ndarray, kept: np.ndarray) -> None:
        """Ground truth of whether each agent behaved as trust assumes (for trust calibration)."""
        self.truth_kept += np.bincount(agents, weights=kept.astype(float), minlength=len(self.payoff))
        self.truth_total += np.bincount(agents, minlength=len(self.payoff))

    def count(self, name: str, value: float) -> None:
        """Add to an environment counter of this step (``injections_attempted``...)."""
        self.env.step_counts[name] = self.env.step_counts.get(name, 0.0) + float(value)

    def trust_in(self, i: int, j: int) -> float:
        rows = self.pairs.index(np.array([i]), np.array([j]))
        return float(self.pairs.trust(rows)[0])

    def living(self) -> np.ndarray:
        return np.flatnonzero(self.alive)

    def trust_graph(self) -> nx.DiGraph:
        """The trust network now: edge (i, j) carries i's trust in j; nodes carry group and payoff."""
        g = nx.DiGraph()
        for i in range(len(self.payoff)):
            if self.alive[i]:
                g.add_node(i, group=self.groups[self.group_of[i]].name, payoff=float(self.payoff[i]))
        if len(self.pairs):
            a, b = self.pairs.pairs()
            tr = self.pairs.all_trust()
            played = self.pairs["turns"] > 0
            for i, j, t in zip(a[played].tolist(), b[played].tolist(), tr[played].tolist(), strict=True):
                if self.alive[i] and self.alive[j]:
                    g.add_edge(i, j, trust=t)
        return g

    # ------------------------------------------------------------------------------------------
    # the step
    # ------------------------------------------------------------------------------------------
    def step(self) -> None:
        self.t += 1
        self._fire_events()
        self.step_payoff[:] = 0.0
        self.env.step_counts = {}
        self._step_outcomes = []
        if self.learning is not None:
            self.learning.before_play(self)
        self.env.step(self)
        self.payoff += self.step_payoff
        if self.learning is not None:
            self.learning.after_play(self)
        if self.evolution is not None:
            self.evolution.after_play(self)
        self._rewire()
        self._collect()

    def run(self, steps: int | None = None, progress: Any = None) -> None:
        """Play ``steps`` steps (the scenario's by default).

        Stretches of plain IPD steps are played fused (``sim.fused``), with
        results identical to calling :meth:`step` that many times; set
        ``model.fuse = False`` (or ``SPECBOUND_FUSE=0``) to step one at a time.
        """
        total = self.spec_scenario.steps if steps is None else steps
        done = 0
        wait, backoff = 0, 1
        fuse = self._fusion()
        while done < total:
            k = fuse.advance(self, total - done) if fuse is not None and not wait else 0
            if k:
                self._clock_forward(k)
                backoff = 1
            else:
                self.step()
                k = 1
                if fuse is not None:
                    # A stretch that cannot start (new keys still appearing) is retried later and later.
                    wait, backoff = (max(0, wait - 1), backoff) if wait else (backoff, min(2 * backoff, 64))
            done += k
            if progress is not None:
                progress.update(k)

    def _fusion(self) -> Any:
        """``sim.fused`` when this run may fuse steps (imported only then: numba loads slowly)."""
        if not self.fuse or self.env.name != "ipd" or self.evolution is not None or self.learning is not None:
            return None
        try:
            from sim import fused
        except ImportError:  # no numba build for this platform: every step the generic way
            return None
        return fused if fused.eligible(self) else None

    def _clock_forward(self, k: int) -> None:
        """Mesa's clock after ``k`` fused steps: step counter and time moved on, next step rescheduled."""
        schedule = self._default_schedule
        schedule.pause()
        self.steps += k
        self.time += k
        schedule.resume()

    def _collect(self) -> None:
        n_out = len(self._outcomes)
        if self._step_outcomes:
            counts = np.bincount(np.concatenate(self._step_outcomes), minlength=n_out).astype(np.float64)
        else:
            counts = np.zeros(n_out)
        M.record_steps(self, M.step_view(self, counts), self.t - 1)

    def _rewire(self) -> None:
        rw = self.spec_scenario.network.get("rewire")
        if not rw or not self.env.pairwise or self.t % int(rw.get("every", 1)):
            return
        below = float(rw.get("below", 0.3))
        e = self.edges
        if not len(e):
            return
        ra, rb = self.pairs.align(self.graph_version, e[:, 0], e[:, 1])
        ta, tb = self.pairs.trust(ra), self.pairs.trust(rb)
        cut = np.flatnonzero((ta < below) | (tb < below))
        if not len(cut):
            return
        living = self.living()
        for k in cut.tolist():
            i, j = int(e[k, 0]), int(e[k, 1])
            who = i if ta[k] < below else j
            self.graph.remove_edge(i, j)
            for _ in range(8):  # a few tries to find a new partner it is not yet tied to
                c = int(living[self.rng_match.integers(len(living))])
                if c != who and not self.graph.has_edge(who, c):
                    self.graph.add_edge(who, c)
                    break
        self.count("rewired", len(cut))
        self.graph_changed()

    # ------------------------------------------------------------------------------------------
    # script events
    # ------------------------------------------------------------------------------------------
    def _due(self, ev: ScriptEvent) -> bool:
        if ev.once and ev.index in self._fired:
            return False
        if ev.at is not None:
            return ev.at == self.t
        metric, op, value = ev.when  # type: ignore[misc]
        got = self.last_metrics.get(metric)
        if got is None and metric in self.totals.cumulative_names():
            got = self.totals.cumulative(metric)
        if got is None or got != got:
            return False
        return got > value if op == "above" else got < value

    def _fire_events(self) -> None:
        for ev in self.spec_scenario.events:
            if self._due(ev):
                self._fired.add(ev.index)
                self._apply_event(ev)

    def _targets(self, to: str | None) -> tuple[list[int], list[int]]:
        """(groups, agents) an event applies to."""
        if to is None:
            return [gs.index for gs in self.groups], []
        if to in self._group_index:
            return [self._group_index[to]], []
        return [], [int(to)]

    def _apply_event(self, ev: ScriptEvent) -> None:
        a = ev.args
        groups, agents = self._targets(ev.to)
        detail: dict[str, Any] = {"event": ev.index, "to": ev.to}
        if ev.type == "instruct":
            ins = self._instruction(a, f"events[{ev.index}]")
            for g in groups:
                self.groups[g].instructions.append(ins)
            for i in agents:
                self.agent_extra.setdefault(i, []).append(ins)
            detail.update(source=ins.source, text=ins.text, check=ins.check, level=str(ins.level))
        elif ev.type == "delegate":
            d = Delegation(source=a["delegate"], level=Level.parse(a.get("level", "user")),
                           scope=tuple(a.get("scope", ())), by=PRINCIPALS[a["source"]])
            for g in groups:
                self.groups[g].delegations.append(d)
            detail.update(delegate=d.source, level=str(d.level), scope=list(d.scope))
        elif ev.type == "patch_spec":
            changes = dict(a["set"])
            for g in groups:
                self.groups[g].spec = patch_spec(self.groups[g].spec, changes)
            detail.update(set={k: v for k, v in changes.items()})
        elif ev.type == "shock":
            changes = dict(a["set"])
            self.env.shock(changes, f"events[{ev.index}].set")
            detail.update(set=changes)
        elif ev.type == "join":
            g = self._group_index[a["group"]]
            new = self._join(g, int(a.get("count", 1)))
            detail.update(group=a["group"], agents=new)
        elif ev.type == "leave":
            gone = self._leave(groups, agents, int(a.get("count", 1)))
            detail.update(agents=gone)
        touched = np.flatnonzero(np.isin(self.group_of, groups)) if groups else np.array(agents)
        if ev.type in ("instruct", "delegate", "patch_spec") and len(touched):
            self._refresh_deciders(touched)
        self._script_event(ev.type, None if not agents else agents[0], detail)

    def _script_event(self, kind: str, agent: int | None, detail: dict[str, Any]) -> None:
        self.script_log.append({"step": self.t, "kind": kind, "agent": agent, "detail": detail})

    def _join(self, g: int, count: int) -> list[int]:
        start = len(self.payoff)
        new = list(range(start, start + count))
        gspec = self.spec_scenario.groups[g]
        self.group_of = np.concatenate([self.group_of, np.full(count, g, dtype=np.int32)])
        self.alive = np.concatenate([self.alive, np.ones(count, dtype=bool)])
        for name in ("payoff", "step_payoff", "truth_kept", "truth_total"):
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros(count)]))
        self.delib = np.concatenate([self.delib, np.full(count, gspec.deliberation)])
        self.err = np.concatenate([self.err, np.full(count, gspec.error_rate)])
        self._any_fast = bool((self.delib < 1.0).any())
        self._any_error = bool((self.err > 0.0).any())
        for ph in range(len(self.phases)):
            self.decider_of[ph] = np.concatenate([self.decider_of[ph], np.zeros(count, dtype=np.int64)])
        self.variant_of = np.concatenate([self.variant_of, self._draw_variants(g, count)])
        self._refresh_deciders(np.array(new))
        self.handles.extend(SpecAgent(self, i, gspec.name) for i in new)
        living = [int(x) for x in self.living() if x < start]
        degree = int(self.spec_scenario.network.get("degree", 4))
        kind = self.spec_scenario.network["kind"]
        for i in new:
            self.graph.add_node(i)
            if kind == "none":
                continue
            if kind == "complete":
                targets = living
            else:
                k = min(degree, len(living))
                targets = [int(x) for x in self.rng_match.choice(living, size=k, replace=False)] if k else []
            self.graph.add_edges_from((i, j) for j in targets)
            living.append(i)
        self.graph_changed()
        return new

    def _leave(self, groups: list[int], agents: list[int], count: int) -> list[int]:
        pool = agents or [int(i) for i in np.flatnonzero(self.alive & np.isin(self.group_of, groups))]
        if not pool:
            return []
        k = min(count, len(pool))
        gone = sorted(int(x) for x in self.rng_match.choice(pool, size=k, replace=False))
        for i in gone:
            self.alive[i] = False
            if i in self.graph:
                self.graph.remove_edges_from(list(self.graph.edges(i)))
        self.graph_changed()
        return gone

    # ------------------------------------------------------------------------------------------
    # results
    # ------------------------------------------------------------------------------------------
    def final_metrics(self) -> dict[str, float]:
        return M.final_metrics(self)

    def conflict_rows(self) -> list[dict[str, Any]]:
        """Every logged conflict event, expanded: one row per (decision, violated constraint)."""
        rows: list[dict[str, Any]] = []
        for step, agents, partners, outcomes in self._event_chunks:
            for i, p, o in zip(agents.tolist(), partners.tolist(), outcomes.tolist(), strict=True):
                for ev in self._outcome_conflicts[o]:
                    rows.append({
                        "step": step, "kind": "conflict", "agent": i, "partner": p,
                        "winner": ev.winner,
                        "winner_level": None if ev.winner_level is None else str(ev.winner_level),
                        "winner_source": ev.winner_source, "loser": ev.loser,
                        "loser_level": str(ev.loser_level), "loser_source": ev.loser_source,
                        "act": ev.act, "reason": ev.reason, "detail": None,
                    })
        return rows

    def script_rows(self) -> list[dict[str, Any]]:
        return [{"step": e["step"], "kind": e["kind"], "agent": e["agent"], "partner": None,
                 "winner": None, "winner_level": None, "winner_source": None, "loser": None,
                 "loser_level": None, "loser_source": None, "act": None, "reason": None,
                 "detail": json.dumps(e["detail"], sort_keys=True, default=str)}
                for e in self.script_log]


def _no_values(obs: Any) -> tuple[()]:
    return ()


def _memoisable(policy: Any) -> bool:
    """Whether a policy's ranking is a pure function of the observation (not a language model)."""
    return bool(getattr(policy, "memoisable", True))


def is_deception(act: Act) -> bool:
    """A lie of commission or omission, or a promise made to be broken."""
    return bool(act.asserts_false or act.misleads
                or (act.promise is not None and act.cooperative is not None
                    and (act.promise == "C") != act.cooperative))


class _Growable:
    """Columns of numpy arrays that grow by doubling; rows appended one at a time."""

    def __init__(self, dtypes: dict[str, Any]) -> None:
        self.n = 0
        self.arr = {k: np.zeros(16, dtype=t) for k, t in dtypes.items()}

    def __len__(self) -> int:
        return self.n

    def append(self, **values: Any) -> int:
        if self.n == len(next(iter(self.arr.values()))):
            for k, a in self.arr.items():
                self.arr[k] = np.concatenate([a, np.zeros_like(a)])
        for k, v in values.items():
            self.arr[k][self.n] = v
        self.n += 1
        return self.n - 1


class _Flat:
    """A growing table of small ints (a sparse matrix in coordinate form)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.cols: dict[str, list[int]] = {k: [] for k in names}
        self._arr: dict[str, np.ndarray] | None = None

    def append(self, **values: int) -> None:
        for k, v in values.items():
            self.cols[k].append(v)
        self._arr = None

    def arrays(self) -> dict[str, np.ndarray]:
        if self._arr is None:
            self._arr = {k: np.asarray(v, dtype=np.int64) for k, v in self.cols.items()}
        return self._arr


def build_graph(net: dict[str, Any], n: int, rng: np.random.Generator) -> nx.Graph:
    """The scenario's network, every generator seeded from the model's generator."""
    kind = net["kind"]
    seed = int(rng.integers(2**31 - 1))
    degree = int(net.get("degree", 4))
    if kind == "complete":
        g = nx.complete_graph(n)
    elif kind == "none":
        g = nx.empty_graph(n)
    elif kind == "random_regular":
        g = nx.random_regular_graph(degree, n, seed=seed)
    elif kind == "watts_strogatz":
        g = nx.watts_strogatz_graph(n, degree, float(net.get("p", 0.1)), seed=seed)
    elif kind == "erdos_renyi":
        g = nx.gnp_random_graph(n, degree / max(n - 1, 1), seed=seed)
    elif kind == "barabasi_albert":
        g = nx.barabasi_albert_graph(n, max(1, degree // 2), seed=seed)
    elif kind == "lattice":
        g = lattice_graph(n, degree, rng if net.get("shuffle") else None)
    elif kind == "edgelist":
        try:
            g = nx.read_edgelist(net["path"], nodetype=int)
        except (OSError, TypeError, ValueError) as e:
            raise ScenarioError(f"network.path: {net['path']}: not an edge list of agent indices ({e})") from None
        g.add_nodes_from(range(n))
        bad = [v for v in g.nodes if not 0 <= v < n]
        if bad:
            raise ScenarioError(f"network.path: node {bad[0]} is not an agent index 0..{n - 1}")
    else:  # validated by the scenario loader
        raise ScenarioError(f"network.kind: unknown kind {kind!r}")
    if net.get("self_play"):
        g.add_edges_from((i, i) for i in range(n))
    return g
