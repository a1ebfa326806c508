"""Benchmarks of learning: its cost in the trust game, and the memory its state takes.

``learners``: ``trust-game`` at 10,000 agents on its small world, three in four
agents in one group, the rest opportunists. The group plays fixed ``reciprocal``
policies, then a learner (``fictitious_play``, ``roth_erev`` or discounting
``q_learning``, conditioned on
the partner's last move); every decision goes through the chain of command in
both, the configurations taking turns. The ratio is the learners' agent-steps per second over the fixed
policies' (the cost of learning); the issue's target is at most 3 times slower. Fixed policies
also have a compiled stretch (``scenarios.trust_game_kernel``) that learners do not (yet): the
ratio compares both on the step-by-step path, so it measures learning, not the kernel, and the
note gives the compiled fixed policies' time too.
The two runs play different games, so there is nothing to check equal.

``learning-memory``: the bytes of every learner's state for a million agents
with the trust game's shapes (four decision phases of two or three acts, three
states each for ``observe = "partner_last"``), the largest of the learners;
discounting Q-learners counted with one step's decisions waiting for their next state.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.harness import Result, at_least, at_most

N = 10_000
LEARNERS = {"fictitious_play": {"observe": "partner_last", "initial": 20.0},
            "roth_erev": {"observe": "partner_last", "reference": 5.0, "forgetting": 0.05},
            "q_learning": {"observe": "partner_last", "gamma": 0.9, "temperature": 2.0}}
#: At most this many times slower than fixed policies, as a throughput ratio.
TARGET = 1 / 3
MEMORY_AGENTS = 1_000_000
MEMORY_BOUND_MB = 2000.0
SHORT, LONG = 2, 10


def _model(policy: str, params: dict, n: int, seed: int, fused: bool = False) -> Any:
    """trust-game at ``n`` agents with the main group on ``policy``, warmed up by ``SHORT`` steps."""
    import scenarios  # noqa: F401  (registers the environments)
    from sim.model import SpecModel
    from sim.scenario import load_scenario

    main = n * 3 // 4
    sc = load_scenario("trust-game", {"groups.reciprocal.count": main, "groups.opportunists.count": n - main,
                                      "groups.reciprocal.policy": policy, "groups.reciprocal.params": params,
                                      "network.rewire.below": 0.0, "steps": SHORT + LONG})
    model = SpecModel(sc, seed)
    model.may_fast_forward = fused
    model.run(SHORT)
    return model


def step_times(configs: dict[str, tuple[str, dict, bool]], n: int, repeat: int) -> dict[str, float]:
    """Seconds per step of each configuration, the best of ``repeat`` seeds.

    Configurations take turns within each seed, so a burst of load from other processes
    falls on all of them alike, and the best time is the one least disturbed by it.
    """
    times: dict[str, list[float]] = {k: [] for k in configs}
    for seed in range(repeat):
        for key, (policy, params, fused) in configs.items():
            model = _model(policy, params, n, seed, fused)
            start = time.perf_counter()
            model.run(LONG)
            times[key].append((time.perf_counter() - start) / LONG)
    return {k: min(v) for k, v in times.items()}


def bench_learners(n: int = N, repeat: int = 5) -> list[Result]:
    fixed_policy = ("reciprocal", {"threshold": 0.5})
    configs = {"fixed": (*fixed_policy, False), "fixed-compiled": (*fixed_policy, True),
               **{k: (k, v, False) for k, v in LEARNERS.items()}}
    t = step_times(configs, n, repeat)
    fixed = t["fixed"]
    return [at_least(f"learners-{name}", n / t[name], n / fixed, "same population, fixed policies",
                     "agent-steps/s", TARGET,
                     f"trust-game, {n} agents ({n * 3 // 4} learning), {LONG} steps after {SHORT}, "
                     f"best of {repeat} interleaved; {t[name] * 1e3:.1f} vs {fixed * 1e3:.1f} ms/step "
                     f"(fixed policies stepped; compiled: {t['fixed-compiled'] * 1e3:.1f} ms/step)")
            for name in LEARNERS]


def learning_state_mb(agents: int = MEMORY_AGENTS) -> dict[str, float]:
    """Megabytes of each learner's state for ``agents`` agents, trust-game shapes."""
    from agents.policies import make_policy

    phases = (2, 3, 3, 3)  # promise, send, return after a promise, return without one
    states = 3              # partner_last: none, kept, came through
    out = {}
    for name in ("roth_erev", "q_learning", "aspiration", "fictitious_play"):
        pol = make_policy(name, {"observe": "partner_last"})
        total = sum(a.nbytes for acts in phases for a in pol.init_state(agents, states, acts).values())
        out[name] = total / 2**20
    # Discounting Q-learners also hold each decision until its next state: after one step of
    # two decisions per agent and phase (a 4-regular network: two games per agent), as a run holds.
    pol = make_policy("q_learning", {"observe": "partner_last", "gamma": 0.9})
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(agents), 2)
    total = 0
    for acts in phases:
        st = pol.init_state(agents, states, acts)
        pol.learn(st, rows, rng.integers(0, states, len(rows)), rng.integers(0, acts, len(rows)),
                  np.zeros(len(rows)), rng.integers(0, agents, len(rows)))
        total += sum(a.nbytes for a in st.values())
    out["q_learning(gamma)"] = total / 2**20
    return out


def bench_memory(agents: int = MEMORY_AGENTS) -> list[Result]:
    sizes = learning_state_mb(agents)
    worst = max(sizes, key=lambda k: sizes[k])
    detail = ", ".join(f"{k} {v:.0f} MB" for k, v in sizes.items())
    return [at_most("learning-memory", sizes[worst], MEMORY_BOUND_MB, "MB",
                    f"{agents} agents, trust-game phases, observe partner_last; {detail}")]
