"""The every-scenario benchmark has a plain Mesa plan for every shipped scenario (a new one needs its own)."""

from __future__ import annotations

from bench.every_scenario import LEFT_OUT, PLANS, plan_steps, shipped
from sim.scenario import load_scenario


def test_every_shipped_scenario_has_a_plan() -> None:
    missing = [ref for ref in shipped() if ref not in PLANS and ref not in LEFT_OUT]
    assert not missing, f"bench/every_scenario.py: no plain Mesa plan for {missing}"
    assert not set(PLANS) - set(shipped()), "a plan for a scenario no longer shipped"


def test_peers_play_at_most_specbound_steps() -> None:
    for ref, plan in PLANS.items():
        ours = (plan_steps(ref, False), plan_steps(ref, True))
        peer = plan.peer_steps or ours
        assert all(0 < p <= s for p, s in zip(peer, ours, strict=True)), ref


def test_rows_play_past_every_scripted_event() -> None:
    """A row that stopped before its scenario's events would time a run without them."""
    for ref in PLANS:
        last = max((ev.at for ev in load_scenario(ref).events if ev.at is not None), default=-1)
        for big in (False, True):
            assert plan_steps(ref, big) > last, (ref, big)
