"""Aspirations that move with experience (habituation): exact levels, and the default unchanged."""

from __future__ import annotations

import pytest

from sim.model import SpecModel
from sim.scenario import load_scenario_text
from tests.test_learners import PAIRS


def _final(params: str, steps: int, spec: str = "empty", seed: int = 0) -> dict[str, float]:
    model = SpecModel(load_scenario_text(PAIRS.format(policy="aspiration", params=params, steps=steps,
                                                      spec=spec)), seed=seed)
    model.run()
    return model.final_metrics()


@pytest.mark.parametrize(("h", "steps"), [(0.05, 100), (0.2, 10), (1.0, 3)])
def test_aspiration_moves_towards_what_the_agent_gets(h: float, steps: int) -> None:
    # Bound never to defect first, every pair cooperates every round and earns R = 3; an
    # aspiration starting at 2 then stands at 3 - (1 - h)^steps, for every agent.
    m = _final(f"{{aspiration = 2.0, rate = 0.5, scale = 3.0, habituation = {h}}}", steps,
               spec="never-defect-first")
    assert m["cooperation_rate"] == 1.0
    assert m["learned.learners.aspiration.mean"] == pytest.approx(3 - (1 - h) ** steps, abs=1e-12)


def test_no_habituation_keeps_the_aspiration_fixed_and_reports_none() -> None:
    m = _final("{aspiration = 2.0, rate = 0.5, scale = 2.0}", 20)
    assert not any(k.startswith("learned.learners.aspiration") for k in m)
    assert _final("{aspiration = 2.0, rate = 0.5, scale = 2.0, habituation = 0.0}", 20) == pytest.approx(m,
                                                                                                         nan_ok=True)
