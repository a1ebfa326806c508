"""specbound's side of the benchmarks: the hooks into the engine.

Each function runs specbound on the work its peer does and returns the same
kind of value, so the harness can check both sides agree before timing them.
A missing part of specbound (no ``sim.run`` yet, a scenario not shipped yet)
raises ``Unavailable`` and the benchmark is skipped with that message.

HOOKS FOR THE ENGINE: ``ours_round_robin`` and ``ours_trust_network`` are the
two places that know how the ``ipd-classic`` and ``trust-network`` scenarios
are addressed (group names, dotted override paths). If a scenario changes its
keys, change ``TRUST_NETWORK_SET`` / the functions here, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.errors import SpecboundError
from bench.game import OPPORTUNIST, RECIPROCAL
from bench.harness import Unavailable
from bench.peer_axelrod import RoundRobin

#: Overrides that turn ``trust-network`` into the deterministic bench game:
#: the graph never changes, every broken promise is seen, promises are act labels
#: (``ipd``, not the messages of ``ipd-talk``) and every trader is the same reciprocal.
TRUST_NETWORK_SET: dict[str, Any] = {
    "scenario.environment": "ipd",
    "groups.reciprocal.policy": "reciprocal",
    "groups.reciprocal.params": {"threshold": 0.5},
    "environment.detect_prob": 1.0,
    "network.kind": "watts_strogatz",
    "network.p": 0.1,
}
#: The policy the peers call "reciprocal"; every other policy is an opportunist.
RECIPROCAL_POLICY = "reciprocal"


def _engine() -> tuple[Any, Any]:
    """``sim.run.run_model`` and ``sim.scenario.load_scenario``, or Unavailable."""
    try:
        from sim.runs.run import run_model
        from sim.scenario import load_scenario
    except ImportError as exc:
        raise Unavailable(f"specbound's engine is not importable yet ({exc})") from exc
    return run_model, load_scenario


def _scenario(ref: str, overrides: dict[str, Any] | None = None) -> Any:
    """Load a shipped scenario, turning 'not shipped yet' into Unavailable."""
    _, load_scenario = _engine()
    try:
        return load_scenario(ref, overrides)
    except SpecboundError as exc:
        raise Unavailable(f"scenario {ref!r} cannot be loaded: {exc}") from exc


def round_robin_overrides(copies: int, turns: int = 200) -> dict[str, Any]:
    """Dotted overrides that make ``ipd-classic`` a round robin of ``copies`` per strategy.

    Loads the scenario to learn its group names: call it once, outside any timing.
    """
    base = _scenario("ipd-classic")
    out: dict[str, Any] = {f"groups.{g.name}.count": copies for g in base.groups}
    out["steps"] = turns
    return out


def ours_round_robin(overrides: Mapping[str, Any], seed: int = 0) -> RoundRobin:
    """specbound's ``ipd-classic`` through ``sim.run``, the documented API.

    ``overrides`` come from :func:`round_robin_overrides`, computed by the caller
    before timing; the timed work is what a user's call does: load, run and
    build the result (metrics, step frame, events, agents).
    """
    try:
        from sim import run
    except ImportError as exc:
        raise Unavailable(f"specbound's engine is not importable yet ({exc})") from exc
    result = run("ipd-classic", seed=seed, set=dict(overrides))
    policies = tuple(a["policy"] for a in result.agents)
    n = len(policies)
    return RoundRobin(
        policies=policies,
        totals=np.rint([a["payoff"] for a in result.agents]).astype(np.int64),
        turns=n * (n - 1) // 2 * int(overrides["steps"]),
    )


@dataclass(frozen=True)
class NetworkRun:
    """What specbound's trust-network run hands the peers.

    Attributes:
        edges: the graph specbound played on, (m, 2).
        groups: ``bench.game`` group code per agent.
        payoffs: specbound's total payoff per agent (int64).
    """

    edges: np.ndarray
    groups: np.ndarray
    payoffs: np.ndarray


def trust_network_overrides(n: int, degree: int, steps: int) -> dict[str, Any]:
    """Overrides for ``trust-network`` at ``n`` agents: group sizes scaled in proportion."""
    base = _scenario("trust-network")
    total = sum(g.count for g in base.groups)
    out: dict[str, Any] = dict(TRUST_NETWORK_SET)
    left = n
    for k, g in enumerate(base.groups):
        count = left if k == len(base.groups) - 1 else round(n * g.count / total)
        out[f"groups.{g.name}.count"] = count
        left -= count
    out["steps"] = steps
    out["network.degree"] = degree
    if "rewire" in base.network:
        # Rewiring would change the graph mid-run; the peers play a fixed graph.
        # `every` must be >= 1, so rewiring is switched off by a threshold no
        # trust value is below.
        out["network.rewire.below"] = 0.0
    return out


def ours_trust_network(n: int, degree: int, steps: int, seed: int = 0) -> NetworkRun:
    """Run specbound's ``trust-network`` as the bench game (every decision through the chain)."""
    run_model, _ = _engine()
    model = run_model("trust-network", seed=seed, set=trust_network_overrides(n, degree, steps))
    reciprocal = np.array(
        [model.groups[g].policy.name == RECIPROCAL_POLICY for g in range(len(model.groups))]
    )
    groups = np.where(reciprocal[model.group_of], RECIPROCAL, OPPORTUNIST).astype(np.int64)
    return NetworkRun(
        edges=np.asarray(model.edges, dtype=np.int64),
        groups=groups,
        payoffs=np.rint(model.payoff).astype(np.int64),
    )


def trust_network_model(n: int, degree: int, steps: int, seed: int = 0) -> Any:
    """A built, unplayed ``trust-network`` model of the bench game (``model.run()`` plays it).

    For throughput rows whose peer is handed its graph: building the model (the graph,
    the agents, the specs) is set-up, reported apart.
    """
    _engine()
    import scenarios  # noqa: F401  (registers the environments)
    from sim.model import SpecModel

    return SpecModel(_scenario("trust-network", trust_network_overrides(n, degree, steps)), seed)
