"""What the tests that compare two ways of running share: the rule-based scenarios, and the
check that two run results are the same to the bit."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim.scenario import scenario_ids

#: Every shipped scenario whose agents are all rule-based (the llm- ones need a server).
RULE_BASED = [sid for sid in scenario_ids() if not sid.startswith("llm-")]


def assert_same_result(a: Any, b: Any) -> None:
    """Two ``RunResult``s agree exactly: metrics, agents, step and event frames."""
    assert a.to_json() == b.to_json()
    assert a.agents == b.agents
    pd.testing.assert_frame_equal(a.steps, b.steps, check_exact=True)
    pd.testing.assert_frame_equal(a.events, b.events, check_exact=True)
