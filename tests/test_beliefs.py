"""Belief learners (fictitious play): the known outcomes, partners' moves, the spec's tier, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from cli.main import main
from sim.model import SpecModel
from sim.scenario import load_scenario_text
from tests.test_learners import PAIRS  # twenty fixed PD pairs (T, R, P, S = 4, 3, 1, 0)

# Twenty investors, each tied to one trustee of its own for the whole run (an edge list), in
# the investment game without promises (E = 10, k = 3). Roles are drawn per game, so each
# side invests about half the time; the learners' own returns do not matter to the test.
INVEST = """
[scenario]
id = "invest"
environment = "trust-game"
steps = {steps}
[environment]
promises = false
[network]
kind = "edgelist"
path = "{path}"
[groups.investors]
count = 20
policy = "fictitious_play"
spec = "empty"
params = {{ epsilon = 0.05, initial = 20.0 }}
[groups.trustees]
count = 20
policy = "{trustee}"
spec = "empty"
params = {params}
"""


def _pairs(params: str, steps: int, seed: int = 0, spec: str = "empty") -> SpecModel:
    model = SpecModel(load_scenario_text(PAIRS.format(policy="fictitious_play", params=params, steps=steps, spec=spec)), seed=seed)
    model.run()
    return model


def _invest(tmp_path, trustee: str, params: str = "{}", steps: int = 200, seed: int = 0) -> SpecModel:
    path = tmp_path / "pairs.edges"
    path.write_text("".join(f"{i} {20 + i}\n" for i in range(20)))
    sc = load_scenario_text(INVEST.format(steps=steps, path=path, trustee=trustee, params=params))
    model = SpecModel(sc, seed=seed)
    model.run()
    return model


@pytest.mark.parametrize("seed", [0, 1])
def test_fictitious_play_defects_in_the_prisoners_dilemma(seed: int) -> None:
    # Defection strictly dominates: whatever the belief, D's learned value is higher against
    # either move, so fictitious play ends in mutual defection (Fudenberg and Levine 1998).
    # Optimistic initial values make every agent try cooperating first.
    coop = _pairs("{ initial = 5.0, epsilon = 0.02 }", 150, seed).series["cooperation_rate"]
    assert coop[0] > 0.3
    assert float(np.mean(coop[-50:])) < 0.1


# The investor's best response to its belief q that the trustee returns, with what returns are
# worth learned from experience (E = 10, k = 3): against a trustee returning half, sending all
# earns 15q and keeping earns 10, so send all iff q > 2/3.
@pytest.mark.parametrize(("trustee", "params", "best", "q"), [
    # returns half of everything it gets: q -> 1, send everything
    ("reciprocal", "{ threshold = 0.0 }", "send_all", 1.0),
    # keeps everything: q -> 0, keep the endowment
    ("opportunist", "{}", "send_0", 0.0),
    # returns nothing, a third or half at random: q -> 2/3, yet sending all earns
    # (0 + 10 + 15) / 3 = 8.3 < 10 and half (5 + (0 + 5 + 7.5) / 3 = 9.2): keep
    ("random", "{}", "send_0", 2 / 3),
])
def test_investors_best_respond_to_what_they_believe(tmp_path, trustee: str, params: str, best: str,
                                                     q: float) -> None:
    m = _invest(tmp_path, trustee, params).final_metrics()
    assert m[f"learned.investors.phase1.p.{best}"] >= 0.85, m
    # The belief sits on the side of 2/3 that decides (a learner that stops sending stops
    # learning about its partner, so the belief about a random trustee is not checked).
    belief = m["learned.investors.phase1.belief.cooperates"]
    assert belief > 0.9 if q == 1.0 else (belief < 1 / 3 if q == 0.0 else True), belief


def test_beliefs_are_about_partners_moves_in_each_state(tmp_path) -> None:
    # Each learner plays one tit for tat all run. Conditioned on the learner's own last move,
    # the belief follows it: tit for tat cooperates after the learner cooperated, defects
    # after it defected (exploration keeps both states visited).
    path = tmp_path / "pairs.edges"
    path.write_text("".join(f"{i} {20 + i}\n" for i in range(20)))
    text = PAIRS.format(policy="fictitious_play", params='{ observe = "my_last", epsilon = 0.3 }', steps=120,
                        spec="empty")
    text = text.replace("count = 40", "count = 20").replace(
        'kind = "random_regular"\ndegree = 1', f'kind = "edgelist"\npath = "{path}"')
    text += '[groups.tft]\ncount = 20\npolicy = "tit_for_tat"\nspec = "empty"\n'
    model = SpecModel(load_scenario_text(text), seed=3)
    model.run()
    seen = model.learning.groups[0].state[0]["seen"]  # (agents, states, move); state = my_last + 1
    after_d = seen[:, 1, 1].sum() / seen[:, 1].sum()
    after_c = seen[:, 2, 1].sum() / seen[:, 2].sum()
    assert after_c > 0.9 and after_d < 0.1, (after_c, after_d)


def test_spec_keeps_a_belief_learner_in_its_tier() -> None:
    model = _pairs("{ initial = 5.0, epsilon = 0.02 }", 80, spec="never-defect-first")
    m = model.final_metrics()
    assert m["compliance.never_defect_first"] == 1.0 and m["cooperation_rate"] == 1.0
    assert m["overrides.never_defect_first"] > 0


def test_same_seed_same_run() -> None:
    a, b = (_pairs("{ temperature = 0.5 }", 40, seed=2).series["cooperation_rate"] for _ in range(2))
    c = _pairs("{ temperature = 0.5 }", 40, seed=3).series["cooperation_rate"]
    assert a == b and a != c


@pytest.mark.parametrize(("params", "message"), [
    ("{ prior = 0 }", "policy 'fictitious_play': param 'prior' must be 1e-09 or more, got 0"),
    ("{ temperature = -0.5 }", "policy 'fictitious_play': param 'temperature' must be 0 or more"),
    ("{ epsilon = 1.5 }", "policy 'fictitious_play': param 'epsilon' must be between 0 and 1"),
    ('{ observe = "mood" }', "groups.learners.params.observe: environment 'ipd' has no field 'mood'"),
])
def test_bad_belief_parameters_exit_2(tmp_path, capsys, params: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(PAIRS.format(policy="fictitious_play", params=params, steps=3, spec="empty"))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err


@pytest.mark.parametrize("scenario", ["trust-game-learning", "spatial-pd"])
def test_learned_and_evolved_state_is_stored_and_rerun_reproduces_it(tmp_path, scenario: str) -> None:
    from sim.runs.store import Store
    from sim.runs.sweep import rerun, sweep

    grid = {"steps": [8]} if scenario != "spatial-pd" else {"steps": [8], "groups.cooperators.count": [200],
                                                            "groups.defectors.count": [25]}
    frame = sweep(scenario, grid=grid, runs=2, seed=4, out=tmp_path / "o", workers=1)
    assert (frame["status"] == "done").all()
    # What was learned (per group and phase) or evolved (shares, fixation) is in the stored
    # final metrics, and a rerun from the store alone gives every one of them again.
    prefix = "learned.learners.phase1.belief" if scenario != "spatial-pd" else "fixation."
    runs = Store.open(tmp_path / "o").runs()
    assert [c for c in runs.columns if str(c).startswith(prefix)], list(runs.columns)
    for run_id in (0, 1):
        report = rerun(tmp_path / "o", run_id)
        assert report["match"], report["differences"]
