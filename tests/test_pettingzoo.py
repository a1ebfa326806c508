"""specbound.pettingzoo: PettingZoo's own conformance tests, and what the wrapper promises on top."""

from __future__ import annotations

import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from agents.errors import ScenarioError
from sim.keywords import keyword_overrides
from sim.runs.run import run_model
from sim.scenario import load_scenario
from specbound.pettingzoo import parallel_env

ROOT = Path(__file__).resolve().parent.parent

# Every pairwise and n-player environment, small enough for a test.
ENVS = {
    "ipd": ("ipd-classic", {"steps": 4}),
    "trust-game": ("trust-game", {"steps": 4, "groups__reciprocal__count": 6,
                                  "groups__opportunists__count": 4}),
    "public-goods": ("public-goods", {"steps": 4, "groups__keepers__count": 4,
                                      "groups__free_riders__count": 3, "groups__breakers__count": 3}),
    "commons": ("commons", {"steps": 6}),
    "negotiation": ("negotiation-honest-first", {"steps": 4, "groups__buyers__count": 3,
                                                 "groups__sellers__count": 3}),
    # The other shipped environments work the same way.
    "tooth-fairy": ("tooth-fairy", {"steps": 4, "groups__careful__count": 3, "groups__unbound__count": 3}),
    "injection": ("injection", {"steps": 12, "groups__workers__count": 3, "groups__gullible__count": 3}),
}


def _play(env, seed: int, pick):
    """Play an episode with ``pick(env, agent, obs)``; returns the per-agent reward totals and infos."""
    obs, infos = env.reset(seed=seed)
    total = dict.fromkeys(env.possible_agents, 0.0)
    seen = []
    while env.agents:
        obs, rewards, _te, _tr, infos = env.step({a: pick(env, a, obs[a]) for a in env.agents})
        for a, r in rewards.items():
            total[a] += r
        seen.append(infos)
    return total, seen


def defer(env, agent, obs):
    return env.action_space(agent).n - 1


@pytest.mark.parametrize("name", sorted(ENVS))
def test_passes_pettingzoos_parallel_api_test(name: str) -> None:
    scenario, overrides = ENVS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the test's own complaints come as warnings
        parallel_api_test(parallel_env(scenario, **overrides), num_cycles=200)


@pytest.mark.parametrize("name", sorted(ENVS))
def test_passes_pettingzoos_parallel_seed_test(name: str) -> None:
    scenario, overrides = ENVS[name]
    parallel_seed_test(lambda: parallel_env(scenario, **overrides), num_cycles=50)


@pytest.mark.parametrize("name", sorted(ENVS))
def test_deferring_everywhere_is_the_run_specbound_stores(name: str) -> None:
    # Learners that defer act by their policies: the run is `specbound run --seed 3`'s, payoff for payoff.
    scenario, overrides = ENVS[name]
    env = parallel_env(scenario, **overrides)
    total, _ = _play(env, 3, defer)
    ref = run_model(load_scenario(scenario, keyword_overrides(overrides)), seed=3)
    np.testing.assert_array_equal(env.model.payoff, ref.payoff)
    assert list(total.values()) == pytest.approx(ref.payoff[env.model.seats].tolist())
    got, want = env.model.final_metrics(), ref.final_metrics()
    assert got.keys() == want.keys()
    np.testing.assert_array_equal([got[k] for k in want], [want[k] for k in want])


def test_mask_is_the_chain_of_command() -> None:
    # Platform-bound trustees who promised may not keep everything (keep_promises, system level);
    # unbound opportunists (spec `empty`) may.
    env = parallel_env("trust-game", steps=6, groups__reciprocal__count=6, groups__opportunists__count=4)
    masks: dict[tuple[str, str], set[tuple[int, ...]]] = {}
    obs, infos = env.reset(seed=0)
    while env.agents:
        for a in env.agents:
            if infos[a]["acts"] and infos[a]["acts"][0] == "return_0" and obs[a]["observation"][1] == 1:
                masks.setdefault((a.split("_")[0], "after promise"), set()).add(tuple(obs[a]["action_mask"]))
        obs, _r, _te, _tr, infos = env.step({a: defer(env, a, obs[a]) for a in env.agents})
    assert masks[("reciprocal", "after promise")] == {(0, 1, 1, 0)}
    assert masks[("opportunists", "after promise")] == {(1, 1, 1, 0)}


def test_a_masked_act_is_played_and_booked_as_a_conflict() -> None:
    # A learner that ignores its mask breaks its word: the ledger and compliance say so.
    env = parallel_env("trust-game", steps=6, learners="reciprocal", groups__reciprocal__count=6,
                       groups__opportunists__count=4)

    def greedy(env, agent, obs):  # promise, send everything (so returns are asked), keep everything
        return 2 if obs["observation"][-1] == 1 else 0

    _, seen = _play(env, 0, greedy)
    ledger = [c for infos in seen for i in infos.values() for c in i["conflicts"]]
    assert ledger and {c["loser"] for c in ledger} >= {"keep_promises"}
    assert all(c["loser_level"] == "system" for c in ledger if c["loser"] == "keep_promises")
    kept = [i["compliance"]["keep_promises"] for infos in seen for i in infos.values()
            if "keep_promises" in i["compliance"]]
    assert min(kept) == 0.0
    assert env.model.final_metrics()["violations"] > 0


def test_infos_carry_trust_and_the_acts_played() -> None:
    env = parallel_env("ipd-classic", steps=3)
    _, seen = _play(env, 0, lambda env, a, o: 0)  # everyone cooperates
    last = seen[-1]
    assert all(i["trust"] is not None and i["trust"] > 0.5 for i in last.values())
    assert {p for infos in seen for i in infos.values() for p in i["played"]} == {"C"}


def test_learners_pick_groups_and_others_keep_their_policies() -> None:
    env = parallel_env("trust-game", learners=["opportunists"], groups__reciprocal__count=6,
                       groups__opportunists__count=4)
    assert env.possible_agents == ["opportunists_6", "opportunists_7", "opportunists_8", "opportunists_9"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"learners": "traders"}, "learners: 'traders' is not a group of trust-game"),
    ({"groups__nobody__count": 3}, "groups.nobody"),
    ({"render_mode": "human"}, "render_mode: 'human'"),
])
def test_bad_input_is_one_clear_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace(".", r"\.")):
        parallel_env("trust-game", **kwargs)


def test_reset_without_seed_continues_the_seeded_sequence() -> None:
    def episodes(first_seed):
        env = parallel_env("ipd-classic", steps=2, **{"groups.tit_for_tat.count": 1})
        env.reset(seed=first_seed)
        return [env.reset()[1] and env.model.seed for _ in range(3)]

    assert episodes(5) == episodes(5)
    assert episodes(5) != episodes(6)


def test_close_releases_a_paused_run() -> None:
    env = parallel_env("ipd-classic", steps=50)
    env.reset(seed=0)
    thread = env._stepper._thread
    assert thread.is_alive()  # waiting for the learners' first acts
    env.close()
    assert not thread.is_alive()


def test_the_readme_example_runs_as_written() -> None:
    block = (ROOT / "README.md").read_text().split("<!-- pettingzoo example -->")[1]
    code = block.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})


def test_the_learning_example_runs_shortened(tmp_path, capsys) -> None:
    example = runpy.run_path(str(ROOT / "examples" / "pettingzoo_trust_game.py"))
    out = tmp_path / "curves.png"
    assert example["main"](["--episodes", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.stat().st_size > 0
    assert "with the spec's mask: return per learner" in printed
    assert "without the mask: return per learner" in printed
    masked = example["train"](True, 2)
    assert (masked["violations"] == 0).all()  # learners held to the mask never break a principle
