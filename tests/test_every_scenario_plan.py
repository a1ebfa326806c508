"""The every-scenario benchmark has a plain Mesa plan for every shipped scenario (a new one needs its own)."""

from __future__ import annotations

from bench.every_scenario import LEFT_OUT, PLANS, shipped


def test_every_shipped_scenario_has_a_plan() -> None:
    missing = [ref for ref in shipped() if ref not in PLANS and ref not in LEFT_OUT]
    assert not missing, f"bench/every_scenario.py: no plain Mesa plan for {missing}"
    assert not set(PLANS) - set(shipped()), "a plan for a scenario no longer shipped"


def test_peers_play_at_most_specbound_steps() -> None:
    for ref, plan in PLANS.items():
        peer = plan.peer_steps or plan.steps
        assert all(0 < p <= s for p, s in zip(peer, plan.steps, strict=True)), ref
