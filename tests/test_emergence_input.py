"""Bad [evolution] and learner input the first tables do not cover: one line naming the key, exit 2."""

from __future__ import annotations

import pytest

from cli.main import main
from tests.test_evolution import MORAN
from tests.test_learners import PAIRS


@pytest.mark.parametrize(("evolution", "message"), [
    ('rematch = "yes"', "evolution.rematch: wrong type ('yes')"),
    ("revise = 2.0", "evolution.revise: must be between 0 and 1, got 2.0"),
    ("selection = -0.5", "evolution.selection: the intensity of selection must be 0 or more, got -0.5"),
    ('fitness = "cubic"', "evolution.fitness: unknown 'cubic'; allowed: exponential, linear"),
    ("births = 0", "evolution.births: must be at least 1, got 0"),
    ('groups = ["nobody"]', "evolution.groups[0]: unknown group 'nobody'; allowed: cooperators, defectors"),
    ('evolve = ["level.x"]\nlevels = ["emperor"]', "has no principle 'x'"),
    ('levels = ["emperor"]', "evolution.levels[0]: unknown level 'emperor'; allowed: root, system"),
    ('evolve = ["policy", "policy"]', "evolution.evolve: a trait is named twice"),
    ("evolve = []", "evolution.evolve: name at least one trait"),
    ('policies = ["roth_erev"]', "policy 'roth_erev' learns, and its state belongs to its group; it cannot evolve"),
    ("temperature = true", "evolution.temperature: wrong type (True)"),
])
def test_bad_evolution_is_one_line_and_exit_2(tmp_path, capsys, evolution: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(MORAN.format(evolution=evolution, steps=5))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err


@pytest.mark.parametrize(("policy", "params", "message"), [
    ("roth_erev", "{ forgetting = 1.5 }", "policy 'roth_erev': param 'forgetting' must be between 0 and 1"),
    ("roth_erev", "{ initial = 0 }", "policy 'roth_erev': param 'initial' must be 1e-09 or more"),
    ("aspiration", "{ rate = -0.1 }", "policy 'aspiration': param 'rate' must be between 0 and 1"),
    ("aspiration", "{ scale = 0 }", "policy 'aspiration': param 'scale' must be 1e-12 or more"),
    ("q_learning", "{ rate = 2 }", "policy 'q_learning': param 'rate' must be between 0 and 1"),
    ("fictitious_play", '{ observe = "trust,weather" }', "environment 'ipd' has no field 'weather'"),
])
def test_bad_learner_parameters_exit_2(tmp_path, capsys, policy: str, params: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(PAIRS.format(policy=policy, params=params, steps=3, spec="empty"))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
