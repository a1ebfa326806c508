"""``sim.run``'s result: built from the finished model, the step series read on first use."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd

from sim.runs.run import result_of, run, run_model

SET = {"steps": 30}


def test_runs_series_is_read_when_first_asked_and_is_the_models() -> None:
    result = run("ipd-classic", seed=3, set=SET)
    assert callable(result._series)  # not read yet: the model is released, its series kept
    eager = result_of(run_model("ipd-classic", seed=3, set=SET), dict(SET))
    assert not callable(eager._series)
    index, cols = result.step_columns()
    want_index, want_cols = eager.step_columns()
    assert np.array_equal(index, want_index) and list(cols) == list(want_cols)
    assert all(np.array_equal(np.asarray(cols[k], float), np.asarray(want_cols[k], float), equal_nan=True)
               for k in cols)
    pd.testing.assert_frame_equal(result.steps, eager.steps)
    assert len(result.steps) == SET["steps"]


def test_a_pickled_result_carries_its_frame() -> None:
    result = run("ipd-classic", seed=1, set=SET)
    again = pickle.loads(pickle.dumps(result))
    pd.testing.assert_frame_equal(again.steps, run("ipd-classic", seed=1, set=SET).steps)


def test_agents_rows_are_each_agents_group_and_payoff() -> None:
    model = run_model("ipd-classic", seed=2, set=SET)
    agents = result_of(model).agents
    assert [a["id"] for a in agents] == list(range(len(model.payoff)))
    for a, g, pay in zip(agents, model.group_of.tolist(), model.payoff, strict=True):
        gs = model.groups[g]
        assert (a["group"], a["policy"], a["spec"]) == (gs.name, gs.policy.name, gs.spec.id)
        assert type(a["payoff"]) is float and a["payoff"] == float(pay)
        assert a["alive"] is True
