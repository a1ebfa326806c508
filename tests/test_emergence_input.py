"""Bad learner input the first tables do not cover: one line naming the key, exit 2."""

from __future__ import annotations

import pytest

from cli.main import main
from tests.test_learners import PAIRS


@pytest.mark.parametrize(("policy", "params", "message"), [
    ("roth_erev", "{ forgetting = 1.5 }", "policy 'roth_erev': param 'forgetting' must be between 0 and 1"),
    ("roth_erev", "{ initial = 0 }", "policy 'roth_erev': param 'initial' must be 1e-09 or more"),
    ("aspiration", "{ rate = -0.1 }", "policy 'aspiration': param 'rate' must be between 0 and 1"),
    ("aspiration", "{ scale = 0 }", "policy 'aspiration': param 'scale' must be 1e-12 or more"),
    ("aspiration", "{ habituation = 1.5 }", "policy 'aspiration': param 'habituation' must be between 0 and 1"),
    ("q_learning", "{ rate = 2 }", "policy 'q_learning': param 'rate' must be between 0 and 1"),
    ("q_learning", "{ gamma = 1.5 }", "policy 'q_learning': param 'gamma' must be between 0 and 1, got 1.5"),
    ("q_learning", "{ gamma = -0.1 }", "policy 'q_learning': param 'gamma' must be between 0 and 1, got -0.1"),
    ("q_learning", "{ temperature = -0.5, gamma = 0.9 }", "param 'temperature' must be 0 or more, got -0.5"),
    ("q_learning", "{ decay = 1.2 }", "policy 'q_learning': param 'decay' must be between 0 and 1, got 1.2"),
    ("q_learning", "{ floor = -1 }", "policy 'q_learning': param 'floor' must be between 0 and 1, got -1"),
    ("q_learning", '{ gamma = "high" }', "gamma"),
    ("fictitious_play", '{ observe = "trust,weather" }', "environment 'ipd' has no field 'weather'"),
])
def test_bad_learner_parameters_exit_2(tmp_path, capsys, policy: str, params: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(PAIRS.format(policy=policy, params=params, steps=3, spec="empty"))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
