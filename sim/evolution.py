"""Evolution between agents: imitation on the network and Moran processes.

A scenario's ``[evolution]`` table makes agents copy what earns more. Every
``every`` steps, the payoff each agent earned since the last update is its
fitness, and one update rule changes who carries which *traits*:

- ``imitate_best``: each agent takes the traits of the best earner among its
  neighbours and itself (deterministic and synchronous, Nowak and May 1992;
  an agent among the best keeps its own);
- ``fermi``: each revising agent looks at one random neighbour ``j`` and
  copies it with probability ``1 / (1 + exp(-(pi_j - pi_i) / K))``
  (``temperature`` K; K = 0 copies a better earner for sure, an equal one on
  a coin flip);
- ``proportional``: copy a random neighbour with probability proportional to
  how much more it earned (Schlag 1998; scaled by the population's payoff range);
- ``moran_bd`` (birth-death) and ``moran_db`` (death-birth): ``births`` events
  per update; fitness ``exp(w pi)`` (or ``1 - w + w pi``, ``fitness = "linear"``)
  with ``w`` the intensity of ``selection``, on the network's links (a complete
  graph: anyone), as in the evolutionary graph theory literature.

Traits are the group's policy (with its parameters), the spec, and the level
of named principles; ``evolve`` says which of them are copied
(``["policy"]``, ``["spec"]``, ``["level.do_not_lie"]``). Traits not evolved stay
with the agent, and so do its group, instructions and focal status. A copied
trait mutates with probability ``mutation`` to a uniformly drawn value.

``update`` says how imitation rules revise: ``synchronous`` (the default; every
agent copies what its model held before the update, as Nowak and May) or
``asynchronous`` (random sequential, after Huberman and Glance 1993: the
revising agents take turns in an order drawn from the seeded stream, and each
copies the traits its model holds at its turn, so a change spreads within one
update). Payoffs are those earned since the last update in both modes; Moran
rules are event by event already and take no ``update``.

With ``rematch = true`` every pair forgets its history at each update, so each
generation plays fresh matches of ``every`` rounds (axelrod's ``MoranProcess``
with ``turns = every``).

Everything is arrays: the kernels below take payoffs and a padded neighbour
table and return who copies whom, so a test can run thousands of replicas of
a Moran process at once. Randomness comes from one stream spawned from the
model's generator, so a run is the same on every executor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.errors import ScenarioError
from agents.spec import Level
from agents.uniques import unique_inverse
from sim.limits import MAX_BIRTHS

if TYPE_CHECKING:
    from agents.chain import Binding
    from sim.model import SpecModel

RULES = ("imitate_best", "fermi", "proportional", "moran_bd", "moran_db")
UPDATES = ("synchronous", "asynchronous")
FITNESS = ("exponential", "linear")
KEYS: dict[str, type | tuple[type, ...]] = {
    "rule": str, "every": int, "evolve": list, "temperature": (int, float), "mutation": (int, float),
    "selection": (int, float), "fitness": str, "revise": (int, float), "births": int,
    "policies": list, "levels": list, "groups": list, "rematch": bool, "update": str,
}


@dataclass(frozen=True, slots=True)
class Strain:
    """A policy with its parameters, as a trait value (``label`` names it in ``share.<label>``)."""

    label: str
    policy: str
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class EvolutionConfig:
    """A validated ``[evolution]`` table."""

    rule: str = "imitate_best"
    every: int = 1
    evolve: tuple[str, ...] = ("policy",)
    temperature: float = 0.1
    mutation: float = 0.0
    selection: float = 1.0
    fitness: str = "exponential"
    revise: float = 1.0
    births: int = 1
    strains: tuple[Strain, ...] = ()
    specs: tuple[str, ...] = ()
    principles: tuple[str, ...] = ()  # evolved levels, by principle id
    levels: tuple[Level, ...] = ()    # values a level may mutate to
    groups: tuple[str, ...] = ()      # groups whose agents take part (empty: everyone)
    rematch: bool = False             # pairs forget each other at every update (a fresh match)
    update: str = "synchronous"       # imitation: everyone at once, or in turns (random sequential)


def parse_evolution(table: Any, groups: tuple[Any, ...], library: Any, env_cls: Any,
                    where: str) -> EvolutionConfig:
    """Validate ``[evolution]``: each problem is one line naming the key and what is allowed."""
    from agents.policies import POLICIES, make_policy

    where = f"{where}: evolution"
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table, got {table!r}")
    for k, v in table.items():
        if k not in KEYS:
            raise ScenarioError(f"{where}: unknown key {k!r}; allowed: {', '.join(sorted(KEYS))}")
        if (isinstance(v, bool) and KEYS[k] is not bool) or not isinstance(v, KEYS[k]):
            raise ScenarioError(f"{where}.{k}: wrong type ({v!r})")
    rule = table.get("rule", "imitate_best")
    if rule not in RULES:
        raise ScenarioError(f"{where}.rule: unknown update rule {rule!r}; allowed: {', '.join(RULES)}")
    update = table.get("update", "synchronous")
    if update not in UPDATES:
        raise ScenarioError(f"{where}.update: unknown update mode {update!r}; allowed: {', '.join(UPDATES)}")
    if update == "asynchronous" and rule.startswith("moran"):
        raise ScenarioError(f"{where}.update: {rule!r} replaces one agent per birth already; 'asynchronous' "
                            "applies to imitate_best, fermi and proportional")
    fitness = table.get("fitness", "exponential")
    if fitness not in FITNESS:
        raise ScenarioError(f"{where}.fitness: unknown {fitness!r}; allowed: {', '.join(FITNESS)}")
    temperature = float(table.get("temperature", 0.1))
    if not temperature >= 0:
        raise ScenarioError(f"{where}.temperature: must be 0 or more (the Fermi rule's noise K), got {temperature}")
    for k in ("mutation", "revise"):
        v = float(table.get(k, 0.0 if k == "mutation" else 1.0))
        if not 0.0 <= v <= 1.0:
            raise ScenarioError(f"{where}.{k}: must be between 0 and 1, got {v}")
    selection = float(table.get("selection", 1.0))
    if not selection >= 0:
        raise ScenarioError(f"{where}.selection: the intensity of selection must be 0 or more, got {selection}")
    for k in ("every", "births"):
        if int(table.get(k, 1)) < 1:
            raise ScenarioError(f"{where}.{k}: must be at least 1, got {table[k]}")
    if int(table.get("births", 1)) > MAX_BIRTHS:  # each birth is one event of the update: a typo would hang
        raise ScenarioError(f"{where}.births: {table['births']:,} is out of range; allowed: 1..{MAX_BIRTHS:,}")
    evolve = tuple(table.get("evolve", ["policy"]))
    if not evolve:
        raise ScenarioError(f"{where}.evolve: name at least one trait: policy, spec or level.<principle>")
    principles = []
    for name in evolve:
        if name in ("policy", "spec"):
            continue
        pid = name.removeprefix("level.") if isinstance(name, str) else ""
        if not isinstance(name, str) or not name.startswith("level.") or not pid:
            raise ScenarioError(f"{where}.evolve: unknown trait {name!r}; allowed: policy, spec, "
                                "level.<principle id>")
        for g in groups:
            if pid not in {p.id for p in library.get(g.spec).principles}:
                raise ScenarioError(f"{where}.evolve: {name!r}: spec {g.spec!r} of group {g.name!r} has no "
                                    f"principle {pid!r}")
        principles.append(pid)
    if len(set(evolve)) != len(evolve):
        raise ScenarioError(f"{where}.evolve: a trait is named twice: {list(evolve)}")
    # Strains: the groups' policies, then extra ones mutation may introduce.
    strains: list[Strain] = []
    extra = table.get("policies", [])
    for k, name in enumerate(extra):
        if not isinstance(name, str):
            raise ScenarioError(f"{where}.policies[{k}]: expected a policy name, got {name!r}")
    for name, params, src in ([(g.policy, g.params, f"groups.{g.name}.policy") for g in groups]
                              + [(p, (), f"evolution.policies[{k}]") for k, p in enumerate(extra)]):
        if "policy" in evolve or src.startswith("evolution"):
            _runnable(name, dict(params), env_cls, POLICIES, make_policy, f"{where.split(':')[0]}: {src}")
        s = Strain(name, name, tuple(params))
        if s not in strains:
            strains.append(s)
    names = [s.policy for s in strains]
    strains = [s if names.count(s.policy) == 1 else Strain(f"{s.policy}.{k}", s.policy, s.params)
               for k, s in enumerate(strains)]
    specs = tuple(dict.fromkeys(g.spec for g in groups))
    levels: list[Level] = []
    for k, lv in enumerate(table.get("levels", [])):
        try:
            levels.append(Level.parse(lv))
        except Exception:
            raise ScenarioError(f"{where}.levels[{k}]: unknown level {lv!r}; allowed: "
                                "root, system, developer, user, guideline, none") from None
    names = {g.name for g in groups}
    taking_part = tuple(table.get("groups", []))
    for k, gname in enumerate(taking_part):
        if not isinstance(gname, str) or gname not in names:
            raise ScenarioError(f"{where}.groups[{k}]: unknown group {gname!r}; allowed: {', '.join(sorted(names))}")
    if principles and not levels:
        levels = sorted({p.level for g in groups for p in library.get(g.spec).principles
                         if p.id in principles}, reverse=True)
    return EvolutionConfig(
        rule=rule, every=int(table.get("every", 1)), evolve=evolve, temperature=temperature,
        mutation=float(table.get("mutation", 0.0)), selection=selection, fitness=fitness,
        revise=float(table.get("revise", 1.0)), births=int(table.get("births", 1)),
        strains=tuple(strains), specs=specs, principles=tuple(principles), levels=tuple(levels),
        groups=taking_part, rematch=bool(table.get("rematch", False)), update=update,
    )


def _runnable(name: str, params: dict, env_cls: Any, registry: dict, make: Any, where: str) -> None:
    """Refuse a policy evolution cannot copy: a language model, or one reading what the environment lacks."""
    if getattr(registry.get(name), "learner", False):
        raise ScenarioError(f"{where}: policy {name!r} learns, and its state belongs to its group; it cannot "
                            "evolve; allowed: rule-based policies")
    if name == "llm" or not getattr(registry.get(name), "memoisable", True):
        raise ScenarioError(f"{where}: policy {name!r} cannot evolve (its choices are not a function of the "
                            "observation); allowed: rule-based policies")
    pol = make(name, params, where)
    if getattr(pol, "stochastic", False) and "coin" not in env_cls.Obs._fields:
        raise ScenarioError(f"{where}: policy {name!r} cannot run in environment {env_cls.name!r}: it draws "
                            "the engine's coin, which this environment does not deal; allowed: "
                            "deterministic policies")
    obs = env_cls.Obs(*[0] * len(env_cls.Obs._fields))
    try:
        pol.rank(obs, env_cls.acts)
    except (AttributeError, KeyError, IndexError) as e:
        raise ScenarioError(f"{where}: policy {name!r} cannot run in environment {env_cls.name!r} "
                            f"(it reads {e}); choose a policy that reads only: "
                            f"{', '.join(env_cls.Obs._fields)}") from None


# --------------------------------------------------------------------------------------------
# kernels: pure functions of arrays
# --------------------------------------------------------------------------------------------


def neighbour_table(edges: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Padded neighbour lists of an undirected edge list: ``(nbr (n, dmax), deg (n,))``, pad -1.

    Self-loops are dropped (an agent does not imitate or replace itself).
    """
    e = edges[edges[:, 0] != edges[:, 1]] if len(edges) else edges.reshape(0, 2)
    a = np.concatenate([e[:, 0], e[:, 1]]).astype(np.int64)
    b = np.concatenate([e[:, 1], e[:, 0]]).astype(np.int64)
    # One sort of a * n + b (numpy's radix-free introsort of int64) in place of a two-key
    # lexsort: equal keys are equal (a, b) rows, so any order of them gives the same table.
    order = np.argsort(a * max(n, 1) + b)
    a, b = a[order], b[order]
    deg = np.bincount(a, minlength=n)
    start = np.concatenate([[0], np.cumsum(deg)[:-1]])
    nbr = np.full((n, max(int(deg.max()) if n else 0, 1)), -1, dtype=np.int64)
    nbr[a, np.arange(len(a)) - start[a]] = b
    return nbr, deg


def imitate_best(payoff: np.ndarray, nbr: np.ndarray | None) -> np.ndarray:
    """Whom each agent copies: the best earner of its neighbourhood and itself (itself on a tie)."""
    n = len(payoff)
    if nbr is None:  # complete graph: the best earner of all
        best = int(np.argmax(payoff))
        return np.where(payoff >= payoff[best], np.arange(n), best)
    cand = np.concatenate([np.arange(n)[:, None], nbr], axis=1)
    cand = np.where(cand < 0, np.arange(n)[:, None], cand)
    return cand[np.arange(n), np.argmax(payoff[cand], axis=1)]  # argmax: first best, self first


def in_turn(values: np.ndarray, to: np.ndarray, src: np.ndarray, hit: np.ndarray | None = None,
            drawn: np.ndarray | None = None) -> np.ndarray:
    """What ``to[k]`` holds after agents copy ``values[src[k]]`` one at a time, ``k = 0, 1, ...``.

    Random sequential updating: a source that took its turn earlier passes on what it
    copied (a chain). ``hit[k]``: the copy mutated to ``drawn[k]``. Resolved by pointer
    jumping, so a long chain costs a few array passes, not a Python loop over agents.
    """
    m = len(to)
    turn = np.full(len(values), m, dtype=np.int64)
    turn[to] = np.arange(m)
    ptr = turn[src]
    ptr = np.where(ptr < np.arange(m), ptr, -1)  # the earlier turn of my source, if any
    val = values[src].copy()
    if hit is not None and drawn is not None:
        val[hit] = drawn
        ptr[hit] = -1
    while (ptr >= 0).any():
        k = np.flatnonzero(ptr >= 0)
        up = ptr[k]
        done = ptr[up] < 0
        val[k[done]] = val[up[done]]
        ptr[k] = np.where(done, -1, ptr[up])
    return val


def random_neighbour(who: np.ndarray, nbr: np.ndarray | None, deg: np.ndarray | None, n: int,
                     rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn neighbour of each agent in ``who`` (itself when it has none)."""
    if nbr is None:
        if n < 2:
            return who.copy()
        return (who + 1 + rng.integers(0, n - 1, len(who))) % n
    assert deg is not None
    d = deg[who]
    pick = np.floor(rng.random(len(who)) * np.maximum(d, 1)).astype(np.int64)
    j = nbr[who, pick]
    return np.where(d > 0, j, who)


def fermi_probability(gain: np.ndarray, temperature: float) -> np.ndarray:
    """``1 / (1 + exp(-gain / K))``; at K = 0 the step function (a half on a tie)."""
    if temperature == 0:
        return np.where(gain > 0, 1.0, np.where(gain < 0, 0.0, 0.5))
    return 0.5 * (1.0 + np.tanh(gain / (2.0 * temperature)))  # the logistic, without overflow


def moran_fitness(payoff: np.ndarray, selection: float, kind: str = "exponential") -> np.ndarray:
    """Fitness from payoff with intensity of selection ``w`` (rows are replicas; shift-invariant for exp)."""
    if kind == "exponential":
        top = payoff.max(axis=-1, keepdims=True)
        return np.exp(selection * (payoff - top))
    return np.maximum(1.0 - selection + selection * payoff, 0.0)


def _pick(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column per row, with probability proportional to the row's weights (uniform if all zero)."""
    w = np.where(weights.sum(axis=1, keepdims=True) > 0, weights, 1.0)
    cum = np.cumsum(w, axis=1)
    u = rng.random(len(w))[:, None] * cum[:, -1:]
    return np.minimum((cum <= u).sum(axis=1), w.shape[1] - 1)


def moran_event(fitness: np.ndarray, rule: str, nbr: np.ndarray | None, deg: np.ndarray | None,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One Moran event in each replica (rows of ``fitness``): ``(dead, parent)`` per row.

    ``moran_bd``: a parent drawn in proportion to fitness, its offspring replaces a
    random neighbour. ``moran_db``: a random agent dies, its neighbours compete for
    the place in proportion to fitness.
    """
    reps, n = fitness.shape
    rows = np.arange(reps)
    if rule == "moran_bd":
        parent = _pick(fitness, rng)
        dead = random_neighbour(parent, nbr, deg, n, rng)
        return dead, parent
    dead = rng.integers(0, n, reps)
    if nbr is None:
        if n < 2:
            return dead, dead
        w = fitness.copy()
        w[rows, dead] = 0.0
        zero = w.sum(axis=1) <= 0  # every other agent unfit (linear fitness): a uniform draw
        w[zero] = 1.0
        w[zero, dead[zero]] = 0.0
        return dead, _pick(w, rng)
    assert deg is not None
    cand = nbr[dead]
    w = np.where(cand >= 0, fitness[rows[:, None], np.maximum(cand, 0)], 0.0)
    if (deg[dead] == 0).any():
        lonely = deg[dead] == 0
        cand[lonely, 0], w[lonely, 0] = dead[lonely], 1.0
    parent = cand[rows, _pick(w, rng)]
    return dead, parent


def fixation_probability(r: float, n: int) -> float:
    """Probability that one mutant of constant relative fitness ``r`` takes over a well-mixed
    Moran population of ``n`` (1/n when neutral)."""
    if r == 1:
        return 1.0 / n
    return (1 - 1 / r) / (1 - 1 / r**n)


def moran_fixation(n: int, r: float, replicas: int, rng: np.random.Generator, rule: str = "moran_bd",
                   nbr: np.ndarray | None = None, deg: np.ndarray | None = None,
                   max_events: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Run ``replicas`` Moran processes from one mutant (agent 0) of fitness ``r`` to absorption.

    Returns (mutant fixed per replica, events to absorption per replica).
    """
    types = np.zeros((replicas, n), dtype=np.int8)
    types[:, 0] = 1
    live = np.arange(replicas)
    fixed = np.zeros(replicas, dtype=bool)
    took = np.zeros(replicas, dtype=np.int64)
    for t in range(1, max_events + 1):
        sub = types[live]
        fit = np.where(sub == 1, r, 1.0)
        dead, parent = moran_event(fit, rule, nbr, deg, rng)
        k = np.arange(len(live))
        sub[k, dead] = sub[k, parent]
        types[live] = sub
        count = sub.sum(axis=1)
        done = (count == 0) | (count == n)
        if done.any():
            fixed[live[done]] = count[done] == n
            took[live[done]] = t
            live = live[~done]
            if not len(live):
                break
    return fixed, took


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (mid - half, mid + half)


# --------------------------------------------------------------------------------------------
# the population's traits during a run
# --------------------------------------------------------------------------------------------


class Evolution:
    """Per-agent traits, the update every ``every`` steps, and the share metrics.

    ``traits`` is an (agents, 2 + levels) int array: strain, spec, then one column per
    evolved principle's level (an index into ``config.levels``). After an update each
    agent's decider is that of its traits with its own group's instructions, so the
    decision tables and the chain of command serve evolved agents unchanged.
    """

    def __init__(self, model: SpecModel, config: EvolutionConfig) -> None:
        from agents.policies import make_policy

        self.config = config
        self.rng = model.rng.spawn(1)[0]  # its own stream: the other streams draw as without evolution
        sc = model.spec_scenario
        strain_of = {(s.policy, repr(s.params)): k for k, s in enumerate(config.strains)}  # params may hold lists
        self.policies = [next((gs.policy for gs, g in zip(model.groups, sc.groups, strict=True)
                               if (g.policy, g.params) == (s.policy, s.params)), None)
                         or make_policy(s.policy, dict(s.params)) for s in config.strains]
        g_strain = np.array([strain_of[(g.policy, repr(g.params))] for g in sc.groups], dtype=np.int64)
        g_spec = np.array([config.specs.index(g.spec) for g in sc.groups], dtype=np.int64)
        cols = [g_strain, g_spec]
        for pid in config.principles:
            lv = []
            for g in sc.groups:
                level = next(p.level for p in sc.library.get(g.spec).principles if p.id == pid)
                lv.append(config.levels.index(level) if level in config.levels else 0)
            cols.append(np.array(lv, dtype=np.int64))
        self._start = np.stack(cols, axis=1)  # each group's traits at the start (newcomers get them)
        self.traits = self._start[model.group_of]
        self.sizes = [len(config.strains), len(config.specs)] + [len(config.levels)] * len(config.principles)
        self.columns = [c for c, name in enumerate(["policy", "spec", *(f"level.{p}" for p in config.principles)])
                        if name in config.evolve]
        self._window = model.payoff.copy()
        names = [gs.name for gs in model.groups]
        self._only = (np.isin(model.group_of, [names.index(g) for g in config.groups])
                      if config.groups else None)
        self._nbr: tuple[int, np.ndarray | None, np.ndarray | None] | None = None
        self._deciders: dict[int, tuple[int, ...]] = {}
        self._known: dict[int, tuple[int, ...]] = {}  # types' deciders found ahead (``known_deciders``)
        self.fixation_step: float = math.nan
        self.fixed: str | None = None
        self._fixed_values: tuple[int, ...] | None = None
        self._assign(model)

    # --- update -----------------------------------------------------------------------------
    def after_play(self, model: SpecModel) -> None:
        """Called by the model after each step's payoffs are settled: update every ``every`` steps."""
        if model.steps % self.config.every:
            return
        alive = self._taking_part(model)
        start = np.concatenate([self._window, np.zeros(len(model.payoff) - len(self._window))])
        pay = model.payoff - start
        self._window = model.payoff.copy()
        c = self.config
        nbr, deg = self._neighbours(model)
        n = len(pay)
        if c.rule.startswith("moran"):
            if not alive.any():
                return
            # Agents not taking part get the lowest payoff (no overflow, no 0 x inf), then no fitness.
            floor = float(pay[alive].min())
            fit = moran_fitness(np.where(alive, pay, floor)[None, :], c.selection, c.fitness)
            fit = np.where(alive, fit, 0.0)
            for _ in range(c.births):
                dead, parent = moran_event(fit, c.rule, nbr, deg, self.rng)
                d, p = int(dead[0]), int(parent[0])
                if alive[d] and d != p:
                    self._copy(np.array([d]), np.array([p]))
                    fit[0, d] = fit[0, p]
        else:
            who = np.flatnonzero(alive)
            if c.revise < 1.0:
                who = who[self.rng.random(len(who)) < c.revise]
            if c.update == "asynchronous":
                who = self.rng.permutation(who)  # the order of turns
            if c.rule == "imitate_best":
                src = imitate_best(np.where(alive, pay, -np.inf), nbr)[who]
            else:
                j = random_neighbour(who, nbr, deg, n, self.rng)
                gain = pay[j] - pay[who]
                if c.rule == "fermi":
                    prob = fermi_probability(gain, c.temperature)
                else:
                    span = float(pay[alive].max() - pay[alive].min()) if alive.any() else 0.0
                    prob = np.maximum(gain, 0.0) / span if span > 0 else np.zeros(len(who))
                src = np.where((self.rng.random(len(who)) < prob) & alive[j], j, who)
            moved = src != who
            self._copy(who[moved], src[moved], in_turns=c.update == "asynchronous")
        self._assign(model)
        self._check_fixation(model)
        if c.rematch:
            # Each generation plays fresh matches, as axelrod's MoranProcess does.
            model.pairs.forget()

    def _taking_part(self, model: SpecModel) -> np.ndarray:
        """Living agents of the groups taking part (shares and fixation count only them)."""
        self._grow(model)
        return model.alive if self._only is None else model.alive & self._only

    def _grow(self, model: SpecModel) -> None:
        """Agents who joined since: their group's starting traits."""
        new = model.group_of[len(self.traits):]
        if len(new):
            self.traits = np.concatenate([self.traits, self._start[new]])
            if self._only is not None:
                names = [gs.name for gs in model.groups]
                self._only = np.concatenate([self._only, np.isin(new, [names.index(g) for g in self.config.groups])])

    def _copy(self, to: np.ndarray, src: np.ndarray, in_turns: bool = False) -> None:
        """``to[k]`` takes the evolved traits of ``src[k]``: all at once, or ``in_turns`` (k = 0, 1, ...)."""
        mutate = self.config.mutation > 0 and len(to)
        for col in self.columns:
            hit = self.rng.random(len(to)) < self.config.mutation if mutate else None
            drawn = self.rng.integers(0, self.sizes[col], int(hit.sum())) if hit is not None else None
            if in_turns:
                self.traits[to, col] = in_turn(self.traits[:, col], to, src, hit, drawn)
                continue
            self.traits[to, col] = self.traits[src, col]
            if hit is not None:
                self.traits[to[hit], col] = drawn

    def _neighbours(self, model: SpecModel) -> tuple[np.ndarray | None, np.ndarray | None]:
        if model.spec_scenario.network["kind"] == "complete" and model.alive.all() and self._only is None:
            return None, None
        if self._nbr is None or self._nbr[0] != model.graph_version:
            e = model.edges
            if self._only is not None:  # only agents taking part are neighbours in evolution
                e = e[self._only[e[:, 0]] & self._only[e[:, 1]]]
            nbr, deg = neighbour_table(e, len(model.payoff))
            self._nbr = (model.graph_version, nbr, deg)
        return self._nbr[1], self._nbr[2]

    def _assign(self, model: SpecModel) -> None:
        """Point every agent at the decider of (its group, its traits).

        A type is coded in mixed radix (group, then each trait); deciders are looked up per
        distinct code, so an update costs a few array operations whatever the population.
        """
        self._grow(model)
        code = model.group_of.astype(np.int64)
        for col, size in enumerate(self.sizes):
            code = code * size + self.traits[:, col]
        uniq, inv = unique_inverse(code)
        for ph in range(len(model.phases)):
            table = np.array([self._decider_of_code(model, int(u))[ph] for u in uniq.tolist()], dtype=np.int64)
            model.decider_of[ph][: len(inv)] = table[inv]

    def _decider_of_code(self, model: SpecModel, code: int) -> tuple[int, ...]:
        dids = self._deciders.get(code)
        if dids is None:
            g, strain, b = self._binding_of_code(model, code)
            dids = model.decisions.decider_ids(b, self.policies[strain], g)
            self._deciders[code] = dids
        return dids

    def known_deciders(self, model: SpecModel, code: int) -> tuple[int, ...] | None:
        """The deciders ``_decider_of_code`` gives type ``code`` if it would create none (they
        exist already, say for another group of the same spec and policy), else None. Records
        nothing: a compiled stretch uses them ahead and records the types it met (``met``)."""
        _, strain, b = self._binding_of_code(model, code)
        dids = model.decisions.known_ids(b, self.policies[strain])
        if dids is not None:
            self._known[code] = dids
        return dids

    def met(self, code: int) -> None:
        """Record type ``code``, whose deciders ``known_deciders`` found, as ``_assign`` would."""
        if code not in self._deciders:
            self._deciders[code] = self._known.pop(code)

    def _binding_of_code(self, model: SpecModel, code: int) -> tuple[int, int, Binding]:
        """Type ``code``'s group, strain and binding (its spec, patched to its levels, with the
        group's instructions)."""
        from agents.spec import patch_spec

        row = []
        for size in reversed(self.sizes):
            code, k = divmod(code, size)
            row.append(k)
        strain, spec_k, *lv = reversed(row)
        g = code
        gs = model.groups[g]
        spec = model.spec_scenario.library.get(self.config.specs[spec_k])
        if self.config.principles:
            spec = patch_spec(spec, {f"principles.{p}.level": str(self.config.levels[k]).lower()
                                     for p, k in zip(self.config.principles, lv, strict=True)})
        return g, strain, model.intern(spec, tuple(gs.instructions), tuple(gs.delegations))

    # --- metrics ------------------------------------------------------------------------------
    def labels(self) -> list[list[str]]:
        c = self.config
        out = [[f"share.{s.label}" for s in c.strains], [f"share.spec.{s}" for s in c.specs]]
        for p in c.principles:
            out.append([f"share.level.{p}.{str(lv).lower()}" for lv in c.levels])
        return out

    def shares(self, model: SpecModel) -> dict[str, float]:
        """Share of living agents carrying each trait value (``share.*``)."""
        alive = self._taking_part(model)
        n = max(int(alive.sum()), 1)
        out: dict[str, float] = {}
        for col, names in enumerate(self.labels()):
            counts = np.bincount(self.traits[alive, col], minlength=len(names))
            out.update({name: float(k / n) for name, k in zip(names, counts, strict=True)})
        return out

    def fixation(self, model: SpecModel) -> float:
        """1.0 once one type holds every agent taking part, else 0.0."""
        return float(self._fixed_type(model) is not None)

    def _fixed_type(self, model: SpecModel) -> str | None:
        sub = self.traits[self._taking_part(model)][:, self.columns]
        if not len(sub) or (sub != sub[0]).any():
            return None
        labels = self.labels()
        return ",".join(labels[col][int(sub[0, k])].removeprefix("share.") for k, col in enumerate(self.columns))

    def _check_fixation(self, model: SpecModel, step: int | None = None) -> None:
        """Note the first update after which one type holds everyone (``step``: default the model's)."""
        if self.fixed is not None:
            return
        fixed = self._fixed_type(model)
        if fixed is not None:
            step = model.steps if step is None else step
            self.fixed, self.fixation_step = fixed, float(step)
            self._fixed_values = tuple(int(v) for v in self.traits[self._taking_part(model)][0, self.columns])
            model.log.script(step, "fixation", None, {"type": fixed, "step": step})

    def final_metrics(self, model: SpecModel) -> dict[str, float]:
        """Final shares; ``fixation`` (0/1: one type took over at some step), ``fixation_step``
        (NaN if none), and ``fixation.<value>`` for every value of each evolved trait (1 for the
        value that took over, else 0: its mean over runs is a fixation probability)."""
        out = self.shares(model)
        out["fixation"] = float(self.fixed is not None)
        out["fixation_step"] = self.fixation_step
        labels = self.labels()
        for k, col in enumerate(self.columns):
            for v, name in enumerate(labels[col]):
                won = self._fixed_values is not None and self._fixed_values[k] == v
                out["fixation." + name.removeprefix("share.")] = float(won)
        return out

    def relabel(self, agents: list[dict[str, Any]]) -> None:
        """Set each agent row's ``policy`` and ``spec`` to its traits (and ``levels``, if evolved)."""
        c = self.config
        for row, t in zip(agents, self.traits.tolist(), strict=False):
            row["policy"] = c.strains[t[0]].label
            row["spec"] = c.specs[t[1]]
            if c.principles:
                row["levels"] = {p: str(c.levels[k]).lower() for p, k in zip(c.principles, t[2:], strict=True)}

    def summary(self) -> dict[str, Any]:
        """What evolved, for a run's result."""
        return {"rule": self.config.rule, "evolve": list(self.config.evolve), "fixed": self.fixed,
                "fixation_step": None if math.isnan(self.fixation_step) else int(self.fixation_step)}
