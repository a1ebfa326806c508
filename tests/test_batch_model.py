"""BatchModel: a scenario driven by Mesa's own batch_run, with the results specbound stores."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest

from agents.errors import ScenarioError
from sim.batch_model import BatchModel
from sim.runs.run import run_model


@pytest.fixture
def start_method():
    # batch_run forces the 'spawn' start method on the whole process; give the next tests theirs back.
    before = multiprocessing.get_start_method(allow_none=True)
    yield
    multiprocessing.set_start_method(before, force=True)


def test_batch_run_sweeps_keyword_parameters(start_method) -> None:
    rows = mesa.batch_run(BatchModel, parameters={
        "scenario": "trust-game", "steps": 6, "groups.opportunists.spec": ["empty", "platform"],
    }, rng=[1, 2], display_progress=False)
    frame = pd.DataFrame(rows)
    assert len(frame) == 4  # 2 specs x 2 seeds, the last step of each
    assert set(frame["groups.opportunists.spec"]) == {"empty", "platform"}
    assert frame["seed"].tolist() == [1, 1, 2, 2]
    assert (frame["Step"] == 6).all()
    for _, row in frame.iterrows():
        ref = run_model("trust-game", seed=int(row["seed"]), set={
            "steps": 6, "groups.opportunists.spec": row["groups.opportunists.spec"]})
        assert row["welfare"] == ref.series["welfare"][-1]
        assert row["trust_mean"] == ref.series["trust_mean"][-1]


def test_the_model_frame_is_the_stored_time_series() -> None:
    model = BatchModel("public-goods", seed=3, steps=8, environment__r=5.0)
    while model.running:
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    ref = run_model("public-goods", seed=3, set={"steps": 8, "environment.r": 5.0})
    assert model.steps == 8 and len(frame) == 8
    for name, values in ref.series.items():
        np.testing.assert_array_equal(frame[name].to_numpy(), values)
    assert model.final_metrics() == pytest.approx(ref.final_metrics(), nan_ok=True)


def test_unseeded_runs_differ_and_say_their_seed() -> None:
    a, b = BatchModel("commons", steps=1), BatchModel("commons", steps=1)
    assert a.seed != b.seed
    a.step()
    assert a.datacollector.get_model_vars_dataframe()["seed"].tolist() == [a.seed]


def test_a_bad_parameter_names_its_path() -> None:
    with pytest.raises(ScenarioError, match=r"environment\.nonsense"):
        BatchModel("commons", environment__nonsense=1)


def test_the_readme_example_runs_as_written(start_method, capsys) -> None:
    block = (Path(__file__).resolve().parent.parent / "README.md").read_text().split("<!-- batch_run example -->")[1]
    code = block.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
    printed = capsys.readouterr().out
    assert "platform" in printed and "trust_mean" in printed
