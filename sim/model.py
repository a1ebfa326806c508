"""SpecModel: the Mesa model that runs a scenario (the step loop and the clock).

Each step: due script events fire (``sim.events``); the environment matches
partners over the network (``sim.network``), agents observe, and every
decision goes through :meth:`SpecModel.decide`, a look-up in the decision
table (``sim.decisions``); the environment settles payoffs and reveals truth,
trust updates, and metrics are collected (``sim.collect``).

Mesa owns the clock (``model.steps``, ``model.time``). When the environment
can fast-forward a stretch of steps (``Environment.fast_forward``: the IPD
numba kernel), the model books the stretch's metrics and Mesa's ``run_for``
clocks those steps in one step event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from agents.acts import ActSpace
from agents.agent import SpecAgent
from agents.chain import Binding, Delegation, Instruction
from agents.mesa_import import mesa
from agents.policies import Policy, make_policy
from agents.spec import Spec
from agents.trust import PairTable
from scenarios.environment import Environment, get_environment
from scenarios.stretch import Joined
from sim import collect, summary_book
from sim import metrics as M
from sim.decisions import DecisionTable, memoisable
from sim.eventlog import EventLog
from sim.events import Script, Target
from sim.evolution import Evolution
from sim.instructions import build_instruction
from sim.learning import Learning, is_learner
from sim.llm_choices import llm_choices
from sim.llm_memory import LLMMemory
from sim.network import Network, trust_graph
from sim.population import draw_population, draws_of, typical_params
from sim.scenario import Group, Scenario
from sim.series import Series
from sim.streams import Spawned, spawn_lazily

#: Fast-forward tries that fail in a row wait this many steps at most before the next try.
MAX_BACKOFF = 64


@dataclasses.dataclass(slots=True)
class GroupState:
    """A group as the run changes it: spec patches, instructions and delegations append here."""

    name: str
    index: int
    spec: Spec
    policy: Policy | Any
    instructions: list[Instruction]
    delegations: list[Delegation]
    focal: bool
    mode: str


class SpecModel(mesa.Model):
    """A scenario's population, network, environment and bookkeeping.

    Args:
        scenario: a loaded :class:`sim.scenario.Scenario`.
        seed: the only source of randomness (``rng=`` to Mesa); separate
            streams are spawned from it for matching, decisions, the
            environment and truth detection, so changing how often one is
            drawn (say, deliberation) leaves the others' draws unchanged.
    """

    # A model copied from a template (``sim.model_template``) makes these when first read
    # (``sim.streams``); ``__init__`` sets them, and then these are never asked.
    rng_match = Spawned(0)
    rng_decide = Spawned(1)
    rng_env = Spawned(2)
    rng_detect = Spawned(3)

    def __init__(self, scenario: Scenario, seed: int = 0) -> None:
        rng_graph = self._seeded(scenario, seed)
        self.phases: tuple[ActSpace, ...] = tuple(self.env.phases)

        self._seq = 0  # instructions built so far: a later one supersedes an earlier one
        self.groups = [GroupState(g.name, gi, scenario.library.get(g.spec), _make_policy(g),
                                  [self.new_instruction(dict(d)) for d in g.instructions], [], g.focal, g.mode)
                       for gi, g in enumerate(scenario.groups)]
        self._group_index = {gs.name: gs.index for gs in self.groups}
        n = sum(g.count for g in scenario.groups)
        self.n = n  # agents at the start (joins add rows to the per-agent arrays, not to this)
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

        self.network = Network(scenario.network, n, rng_graph, self.env.pairwise)
        self.pairs = PairTable()

        self.decisions = DecisionTable(self.env.codec, self.phases)
        # Each agent a join adds may bring a decider per phase: room for them in the dense tables.
        self.decisions.reserve = len(self.phases) * sum(
            int(ev.args.get("count", 1)) for ev in scenario.events if ev.type == "join")
        self._bindings: dict[Binding, Binding] = {}
        self._compiled: dict[tuple, Binding] = {}
        self.decider_of = [np.zeros(n, dtype=np.int64) for _ in self.phases]
        self.refresh_deciders(np.arange(n))
        self._any_fast = self._any_error = False
        self._note_rates(self.delib, self.err)
        self.llm_groups = {gs.index for gs in self.groups if not memoisable(gs.policy)}

        self._fresh_records(scenario)
        self._played_ahead = 0  # steps a fast-forward played, for Mesa to count in one step event
        self._fired_ahead = False  # the next step's script events have fired already (``_fast_forward``)
        #: False: never ask the environment to fast-forward (conformance checks compare both ways).
        self.may_fast_forward = True
        # Imitation or Moran updates every few steps (sim.evolution), if the scenario asks;
        # learners' state and the spec's overrides of their favourites (sim.learning).
        self.evolution = Evolution(self, scenario.evolution) if scenario.evolution else None
        self.learning = Learning(self) if any(is_learner(gs.policy) for gs in self.groups) else None
        remember = {gs.index: gs.policy.config.memory for gs in self.groups
                    if gs.index in self.llm_groups and getattr(getattr(gs.policy, "config", None), "memory", 0)}
        self.memory = LLMMemory(remember) if remember else None  # language models' outcome windows
        self.env.setup(self)
        M.prepare(self)  # booking's weights and group layout, at build rather than in the first step
        if self.env.books_in_blocks:
            summary_book.prepare(self)

    def _seeded(self, scenario: Scenario, seed: int, lazy: bool = False) -> np.random.Generator:
        """The build's seeded start, shared with ``sim.model_template``'s copies: Mesa's clock and
        generator, the streams spawned from it in their order, the environment; returns the
        graph's stream (the network is made later). ``lazy``: the four model streams are made
        when first read (``sim.streams``; a template's copy, whose round robin may never draw)."""
        mesa.Model.__init__(self, rng=int(seed))
        self.spec_scenario = scenario
        self.seed = int(seed)
        if lazy:
            rng_graph = spawn_lazily(self)
        else:
            rng_match, rng_decide, rng_env, rng_detect, rng_graph = self.rng.spawn(5)
            self.rng_match, self.rng_decide, self.rng_env, self.rng_detect = (
                rng_match, rng_decide, rng_env, rng_detect)
        self.env: Environment = get_environment(scenario.environment)(scenario.env_params, self)
        return rng_graph

    def _fresh_records(self, scenario: Scenario) -> None:
        """What a run records into, empty (a template's copies make their own too)."""
        self._step_outcomes: list[np.ndarray] = []
        self.log = EventLog()
        self.script = Script(scenario.events)
        self.series = Series()  # metric -> value per step, lists of floats when read
        self.totals = M.Totals()
        self.last_metrics: dict[str, float] = {}

    # --- population ------------------------------------------------------------------------------
    def new_instruction(self, d: dict[str, Any]) -> Instruction:
        """Build a validated instruction table; each comes after every earlier one."""
        self._seq += 1
        return build_instruction(d, self._seq)

    def group_index(self, name: str) -> int:
        return self._group_index[name]

    def target(self, to: str | None) -> Target:
        """Whom ``to`` names: every group (None), one group, or one agent (its id)."""
        if to is None:
            return Target([gs.index for gs in self.groups], [])
        if to in self._group_index:
            return Target([self._group_index[to]], [])
        return Target([], [int(to)])

    def join(self, g: int, count: int) -> list[int]:
        """Add ``count`` agents of group ``g`` and tie them into the network; returns their ids."""
        start = len(self.payoff)
        new = list(range(start, start + count))
        gspec = self.spec_scenario.groups[g]
        self.group_of = _grown(self.group_of, count, g)
        self.alive = _grown(self.alive, count, True)
        for name in ("payoff", "step_payoff", "truth_kept", "truth_total"):
            setattr(self, name, _grown(getattr(self, name), count, 0.0))
        self.delib = _grown(self.delib, count, gspec.deliberation)
        self.err = _grown(self.err, count, gspec.error_rate)
        if count:  # the newcomers' rates are their group's: noted once, not per newcomer
            self._note_rates(gspec.deliberation, gspec.error_rate)
        self.variant_of = _appended(self.variant_of, self._draw_variants(g, count))
        own = bool(self.agent_extra) and any(i in self.agent_extra for i in new)
        if count and not own and len(self._variants[g]) == 1:
            # All of group g, one policy, none with instructions of its own (as refresh_deciders
            # finds them): each phase's rows grown with the group's decider (no fancy write).
            for ph, did in enumerate(self._group_deciders(g)):
                self.decider_of[ph] = _grown(self.decider_of[ph], count, did)
        else:
            for ph in range(len(self.phases)):
                self.decider_of[ph] = _grown(self.decider_of[ph], count, 0)
            ids = np.arange(start, start + count)
            if own:
                self.refresh_deciders(ids)
            elif count:
                self._assign_deciders(g, ids)
        self.handles.extend(SpecAgent(self, i, gspec.name) for i in new)
        # The living before them, as ints (as the loop made them): read only where a tie needs them.
        before: list[int] = []
        if self.network.ties_newcomers:
            living = self.living()
            before = living[living < start].tolist()
        self.network.join(new, before, self.rng_match)
        return new

    def joiner_deciders(self, g: int) -> tuple[int, ...] | None:
        """The deciders (one per phase) that ``join(g, ...)`` would give its newcomers now, made
        ahead (a kernel's look-up, made at build, then covers them); None where a join draws its
        newcomers' parameters, or their binding checks a principle no decider has met yet (its
        place in the compliance order is the join's to give)."""
        gspec = self.spec_scenario.groups[g]
        if gspec.policy == "llm" or draws_of(dict(gspec.params), f"groups.{gspec.name}.params"):
            return None
        gs = self.groups[g]
        b = self.intern(gs.spec, tuple(gs.instructions), tuple(gs.delegations))
        known = set(self.decisions.principle_ids)
        if any(c.kind == "principle" and c.check is not None and c.id not in known for c in b.constraints):
            return None
        return self.decisions.decider_ids(b, self._variants[g][0], g)

    def leave(self, groups: list[int], agents: list[int], count: int) -> list[int]:
        """``count`` agents drawn from ``agents`` (or the living members of ``groups``) leave."""
        pool = agents or [int(i) for i in np.flatnonzero(self.alive & np.isin(self.group_of, groups))]
        if not pool:
            return []
        k = min(count, len(pool))
        gone = sorted(int(x) for x in self.rng_match.choice(pool, size=k, replace=False))
        for i in gone:
            self.alive[i] = False
            self.handles[i].remove()  # out of Mesa's model.agents; the handle still reads its row
        self.network.leave(gone)
        return gone

    def _note_rates(self, delib: np.ndarray | float, err: np.ndarray | float) -> None:
        """Fold these agents' deliberation and error rates (arrays, or one group's shared
        values) into the flags (rates only ever arrive with agents: at build, then with each join)."""
        if isinstance(delib, np.ndarray) or isinstance(err, np.ndarray):
            fast, slips = bool(np.any(np.less(delib, 1.0))), bool(np.any(np.greater(err, 0.0)))
        else:  # a join's one group: Python's comparisons (numpy's on scalars cost a join ~40 us, cold)
            fast, slips = delib < 1.0, err > 0.0
        self._any_fast = self._any_fast or fast
        self._any_error = self._any_error or slips

    @property
    def deterministic_decisions(self) -> bool:
        """Every decision is the resolver's choice: full deliberation, no slips, no language model,
        no learner choosing within its tier, no outside say (``steer`` not overridden)."""
        return not (self._any_fast or self._any_error or self.llm_groups or self.learning is not None
                    or type(self).steer is not SpecModel.steer)

    @property
    def decisions_by_table(self) -> bool:
        """As ``deterministic_decisions``, learners allowed: every decision is the resolver's or a
        learner's choice within its tier (a kernel that plays the learners can mirror them)."""
        return not (self._any_fast or self._any_error or self.llm_groups or type(self).steer is not SpecModel.steer)

    @property
    def summarisable(self) -> bool:
        """Whether a fast-forward may compute the engine's per-step metrics itself instead of
        recording per-agent and per-pair arrays (no plugin metric reads them)."""
        return M.summarisable()

    @property
    def fixed_deciders(self) -> bool:
        """No evolution changes who decides how between scripted events."""
        return self.evolution is None

    # --- bindings and deciders ---------------------------------------------------------------------
    def binding_of(self, i: int) -> Binding:
        gs = self.groups[self.group_of[i]]
        instrs = tuple(gs.instructions) + tuple(self.agent_extra.get(int(i), ()))
        return self.intern(gs.spec, instrs, tuple(gs.delegations))

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
        where = {k: i for i, k in enumerate(keys)}  # a list's index() per agent is quadratic
        for ps in sets:
            key = repr(sorted(ps.items()))
            at = where.get(key)
            if at is None:
                at = where[key] = len(keys)
                keys.append(key)
                pols.append(make_policy(gspec.policy, ps, f"groups.{gspec.name}.policy"))
            mapped.append(at)
        self.groups[g].policy = pols[0]
        return np.asarray(mapped, dtype=np.int64)[idx]

    def intern(self, spec: Spec, instrs: tuple[Instruction, ...], dels: tuple[Delegation, ...]) -> Binding:
        inputs = (spec, instrs, dels)
        b = self._compiled.get(inputs)
        if b is None:
            b = Binding(spec, instrs, dels)
            # Bindings compare by what decides (Binding.key): those that decide alike share
            # one object, so one memo and one row of the decision tables.
            b = self._compiled[inputs] = self._bindings.setdefault(b, b)
        return b

    def refresh_deciders(self, agents: np.ndarray) -> None:
        """Recompute the decider of ``agents`` after their spec or instructions changed."""
        agents = np.asarray(agents, dtype=np.int64)
        own = np.array([int(i) in self.agent_extra for i in agents], dtype=bool) if self.agent_extra \
            else np.zeros(len(agents), dtype=bool)
        # Agents without instructions of their own decide as their group does: one assignment each.
        plain = agents[~own]
        plain_groups = self.group_of[plain]
        for g in np.unique(plain_groups).tolist():
            self._assign_deciders(g, plain[plain_groups == g])
        for i in agents[own].tolist():
            g = int(self.group_of[i])
            policy = self._variants[g][int(self.variant_of[i])]
            for ph, did in enumerate(self.decisions.decider_ids(self.binding_of(i), policy, g)):
                self.decider_of[ph][i] = did

    def _group_deciders(self, g: int) -> tuple[int, ...]:
        """The deciders (one per phase) of group ``g``'s members without instructions of their own,
        when the group has one policy (no drawn parameters)."""
        gs = self.groups[g]
        b = self.intern(gs.spec, tuple(gs.instructions), tuple(gs.delegations))
        return self.decisions.decider_ids(b, self._variants[g][0], g)

    def _assign_deciders(self, g: int, in_group: np.ndarray) -> None:
        """The deciders of these members of group ``g``, none with instructions of its own."""
        if len(self._variants[g]) == 1:  # one policy (no drawn parameters): every member is variant 0
            for ph, did in enumerate(self._group_deciders(g)):
                self.decider_of[ph][in_group] = did
            return
        gs = self.groups[g]
        b = self.intern(gs.spec, tuple(gs.instructions), tuple(gs.delegations))
        # The variants present, their deciders in one call, and each member's by one gather (a
        # mask per variant is quadratic in a drawn group, a write per variant costs as much).
        variants = self._variants[g]
        inv = self.variant_of[in_group]
        if np.bincount(inv, minlength=len(variants)).all():
            present = variants  # every variant (a whole group, as drawn): np.unique would give them all
        else:
            vs, inv = np.unique(inv, return_inverse=True)
            present = [variants[v] for v in vs.tolist()]
        ids = self.decisions.decider_ids_of(b, present, g)
        for ph in range(ids.shape[1]):
            self.decider_of[ph][in_group] = ids[inv, ph]

    # --- the one path to a decision ----------------------------------------------------------------
    def decide(self, agents: np.ndarray, codes: np.ndarray, partners: np.ndarray | None = None,
               phase: int = 0, context: Callable[[int], dict[str, Any]] | None = None) -> np.ndarray:
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
        table = self.decisions
        cells = table.cells(phase, self.decider_of[phase][agents], codes)
        chosen = table.full[cells].astype(np.int64)
        if self.learning is not None:
            chosen = self.learning.choose(self, agents, codes, cells, chosen, phase, partners)
        if self._any_fast:
            fast = self.rng_decide.random(m) >= self.delib[agents]
            chosen = np.where(fast, table.root[cells], chosen)
        if self._any_error:
            slip = self.rng_decide.random(m) < self.err[agents]
            if slip.any():
                chosen[slip] = self.rng_decide.integers(0, len(self.phases[phase]), int(slip.sum()))
        if self.llm_groups:
            chosen = llm_choices(self, agents, codes, phase, cells, chosen, context, partners)
        chosen = self.steer(agents, codes, partners, phase, cells, chosen)
        outcome = table.base[cells] + chosen
        self._step_outcomes.append(outcome)
        if self.learning is not None:
            self.learning.booked(self, agents, partners, outcome)
        if self.memory is not None:
            self.memory.booked(agents, partners, phase, chosen)
        self.log.conflicts(self.steps, agents, partners, outcome, table.outcome_column("nconf"))
        return chosen

    def steer(self, agents: np.ndarray, codes: np.ndarray, partners: np.ndarray | None, phase: int,
              cells: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """The last say over the acts chosen before they are booked; here it keeps them.

        The seam through which ``sim.external.ExternalModel`` lets outside
        learners act: what it returns is booked like any decision (conflicts,
        compliance, metrics).
        """
        return chosen

    # --- services for environments -----------------------------------------------------------------
    @property
    def edges(self) -> np.ndarray:
        """Undirected edges among living agents, as an (E, 2) array (cached per graph version)."""
        return self.network.edges(self.alive)

    def edge_agents(self) -> tuple[np.ndarray, np.ndarray]:
        """(agents, partners) for both sides of every edge: [i; j] and [j; i] (cached)."""
        return self.network.edge_agents(self.alive)

    @property
    def graph_version(self) -> int:
        return self.network.version

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
        return trust_graph(self.pairs, self.alive, [self.groups[g].name for g in self.group_of], self.payoff)

    # --- the step and the clock --------------------------------------------------------------------
    def step(self) -> None:
        """One step (Mesa has already moved ``steps`` and ``time`` on)."""
        if self._played_ahead:
            # The stretch is already played: this one step event of Mesa's counts all of it. Mesa
            # schedules the next step one unit after ``time`` and ends ``run_for`` at its target.
            self.steps += self._played_ahead - 1
            self.time += self._played_ahead - 1
            self._played_ahead = 0
            return
        if self._fired_ahead:
            self._fired_ahead = False  # fired before a stretch that could not start after all
        else:
            self.script.fire(self)
        self.step_payoff[:] = 0.0
        self.env.step_counts = {}
        self._step_outcomes = []
        if self.learning is not None:
            self.learning.before_play(self)
        if self.memory is not None:
            self.memory.before_play()
        self.env.step(self)
        self.payoff += self.step_payoff
        if self.learning is not None:
            self.learning.after_play(self)
        if self.memory is not None:
            self.memory.after_play(self)
        if self.evolution is not None:
            self.evolution.after_play(self)
        cut = self.network.rewire(self.steps, self.pairs, self.alive, self.rng_match)
        if cut:
            self.count("rewired", cut)
        collect.collect_step(self, self._step_outcomes)

    def run(self, steps: int | None = None, progress: Any = None) -> None:
        """Play ``steps`` steps (the scenario's by default).

        Before each step the environment is asked to fast-forward the stretch up
        to the next scripted event; it plays what it can (with results identical
        to stepping) and Mesa's own ``run_for`` clocks those steps (one step event).
        """
        end = self.steps + (self.spec_scenario.steps if steps is None else steps)
        wait, backoff = 0, 1
        while self.steps < end:
            before = self.steps
            due = not wait and self.script.quiet_steps(self.steps, 1) == 0  # before any fires ahead
            stretch = None if wait else self._fast_forward(end - self.steps)
            if stretch is not None:
                if stretch.joined is None:
                    collect.book_stretch(self, stretch)
                else:
                    collect.book_joined(self, stretch)
                self._played_ahead = stretch.steps
                self.run_for(stretch.steps)
                backoff = 1
            else:
                # A stretch that cannot start (new keys still appearing) is retried later and later;
                # not after a step at which rewiring may cut ties or a scripted event is due (kernels
                # leave those to the generic step: the next one may well be fused).
                rewiring = self.network.steps_before_rewire(before) == 0
                self.step()
                if not (rewiring or due):
                    wait, backoff = (max(0, wait - 1), backoff) if wait else (backoff, min(2 * backoff, MAX_BACKOFF))
            if progress is not None:
                progress.update(self.steps - before)

    def _fast_forward(self, limit: int) -> Any:
        """The environment's fast-forward of at most ``limit`` steps before the next scripted event."""
        if not self.may_fast_forward:
            return None
        quiet = self.script.quiet_steps(self.steps, limit)
        if quiet:
            stretch = self._through_join(quiet, limit) if quiet < limit else None
            return stretch if stretch is not None else self.env.fast_forward(self, quiet)
        if not (self.env.fires_ahead and not self.script.has_triggers):
            return None
        # An event is due at the next step. It is the first thing that step would do, and nothing
        # happens between here and there: fired now, at the step's number, the stretch may play
        # the step with it (if the stretch cannot start, ``step`` does not fire it again).
        self.steps += 1
        try:
            self.script.fire(self)
        finally:
            self.steps -= 1
        self._fired_ahead = True
        stretch = self.env.fast_forward(self, 1 + self.script.quiet_steps(self.steps + 1, limit - 1))
        if stretch is not None:
            self._fired_ahead = False
        return stretch

    def _through_join(self, quiet: int, limit: int) -> Any:
        """A stretch of at most ``limit`` steps that plays the scripted join due after its first
        ``quiet`` steps inside it, if the environment absorbs it (``Environment.absorbs_join``);
        None (nothing fired) if not.

        The join fires now, ahead of its step but at its number: the log, the newcomers' ids and
        its draws are stepping's, as no other event comes first and the environment vouches
        (``absorbs_join``) that its steps before the join draw nothing from the streams a join
        draws (``rng_match`` for ties, the population stream) and that the model the join leaves
        can still be played (the newcomers sit out those steps: ``scenarios.stretch``)."""
        at = self.steps + quiet + 1
        due = self.script.due_at(at)
        if len(due) != 1 or due[0].type != "join":
            return None
        steps = quiet + 1 + self.script.quiet_steps(at, limit - quiet - 1)
        if not self.env.absorbs_join(self, due[0], steps):
            return None
        joined = Joined(at, self.group_of, self.alive)
        now = self.steps
        self.steps = at
        try:
            self.script.fire(self)
        finally:
            self.steps = now
        stretch = self.env.fast_forward_joined(self, steps, joined)
        if stretch is None or stretch.steps <= quiet:
            raise AssertionError(f"{type(self.env).__name__} absorbed the join at step {at} but did not play it")
        stretch.joined = joined
        return stretch

    # --- results -----------------------------------------------------------------------------------
    def final_metrics(self) -> dict[str, float]:
        return M.final_metrics(self)

    def release(self) -> None:
        """Drop all the model holds, once nothing reads it again (``sim.run``, after ``result_of``).

        The model, its agents and its environment refer to one another, so a finished model
        is otherwise freed by the cycle collector, whose passes cost a 12-agent round robin
        about a sixth of its run time; dropped here, it is freed at once.
        """
        self.__dict__.clear()

    def conflict_rows(self) -> list[dict[str, Any]]:
        """Every logged conflict event, expanded: one row per (decision, violated constraint)."""
        return self.log.conflict_rows(self.decisions)

    def script_rows(self) -> list[dict[str, Any]]:
        return self.log.script_rows()


def _grown(a: np.ndarray, count: int, fill: Any) -> np.ndarray:
    """``a`` followed by ``count`` entries of ``fill``, in ``a``'s dtype (the one concatenating
    a filled array gave for the model's arrays): one new array where that made three (a join
    is on the timed run's path)."""
    n = len(a)
    out = np.empty(n + count, a.dtype)
    out[:n] = a
    out[n:] = fill
    return out


def _appended(a: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """``np.concatenate([a, tail])`` for two 1-D arrays of one dtype, without its cold dispatch."""
    n = len(a)
    out = np.empty(n + len(tail), a.dtype)
    out[:n] = a
    out[n:] = tail
    return out


def _make_policy(g: Group) -> Any:
    if g.policy == "llm":
        from agents.llm import make_llm_policy

        pol = make_llm_policy(dict(g.llm), f"groups.{g.name}.llm")
        pol.judging = pol.judge is not None and g.mode == "audit"  # judged only in audit mode
        return pol
    where = f"groups.{g.name}.params"
    return make_policy(g.policy, typical_params(dict(g.params), where), f"groups.{g.name}.policy")
