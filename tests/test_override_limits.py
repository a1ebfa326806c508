"""Overrides that would change nothing, and run lengths beyond any study, are refused (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.errors import ScenarioError
from cli.main import build_parser, main
from sim.runs.run import run_model
from sim.runs.store import STORE_FILE
from sim.scenario import MAX_STEPS, load_scenario, load_scenario_text

UNUSED = "specs.honest-first.principles.protect_reserve.level"  # ipd-classic's groups use "empty"


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("specbound: ") and err.count("\n") == 1, err
    return err


# --- spec overrides -------------------------------------------------------------------------


def test_an_override_of_an_unused_spec_names_the_key_and_the_used_specs() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario("ipd-classic", {UNUSED: "root"})
    message = str(err.value)
    assert message.startswith(f"{UNUSED}: the scenario does not use spec 'honest-first'")
    assert message.endswith("its groups use: empty")


def test_a_spec_the_groups_extend_counts_as_used() -> None:
    sc = load_scenario("trust-network", {"specs.platform.principles.keep_promises.level": "guideline"})
    assert str(sc.library.get("platform").principle("keep_promises").level) == "guideline"


def test_a_spec_a_group_is_switched_to_counts_as_used() -> None:
    sc = load_scenario("ipd-classic", {"groups.defector.spec": "honest-first", UNUSED: "root"})
    assert str(sc.library.get("honest-first").principle("protect_reserve").level) == "root"


def test_a_bad_value_is_reported_before_the_unused_spec() -> None:
    with pytest.raises(ScenarioError, match="unknown level 'boss'"):
        load_scenario("ipd-classic", {UNUSED: "boss"})


def test_run_model_refuses_it_on_a_loaded_scenario() -> None:
    sc = load_scenario("ipd-classic")
    with pytest.raises(ScenarioError, match="does not use spec 'honest-first'"):
        run_model(sc, set={UNUSED: "root"}, steps=1)


def test_a_sweep_point_alone_may_patch_a_spec_other_points_use() -> None:
    # What a sweep does per point: a grid switches the spec, a zip patches one choice.
    text = load_scenario("ipd-classic").text
    sc = load_scenario_text(text, overrides={"groups.defector.spec": "empty", UNUSED: "root"})
    assert sc.groups[0].spec == "empty"


@pytest.mark.parametrize("args", [
    ["run", "ipd-classic", "--set", f"{UNUSED}=root"],
    ["run", "ipd-classic", "--set", f"{UNUSED}=root", "--runs", "2"],
    ["sweep", "ipd-classic", "--set", f"{UNUSED}=root", "--grid", "steps=2"],
    ["sweep", "ipd-classic", "--grid", f"{UNUSED}=root,user"],
])
def test_the_cli_refuses_it_before_any_run(args: list[str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert UNUSED in err and "'honest-first'" in err and "its groups use: empty" in err
    assert not out.exists()


def test_the_sweep_api_refuses_it_before_any_run(tmp_path: Path) -> None:
    from sim.runs.sweep import sweep

    out = tmp_path / "out"
    with pytest.raises(ScenarioError, match="does not use spec 'honest-first' at any grid point"):
        sweep("ipd-classic", grid={UNUSED: ["root", "user"], "steps": [2]}, workers=1, out=out,
              progress=False)
    assert not out.exists()


def test_a_cli_sweep_patching_a_spec_some_point_uses_runs(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["sweep", "ipd-classic", "--grid", "groups.defector.spec=empty,honest-first",
                 "--set", f"{UNUSED}=root", "--grid", "steps=2", "--workers", "1",
                 "--no-progress", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert (out / STORE_FILE).is_file()


# --- steps ----------------------------------------------------------------------------------


def test_the_maximum_itself_loads() -> None:
    assert load_scenario("ipd-classic", {"steps": MAX_STEPS}).steps == MAX_STEPS


@pytest.mark.parametrize(("args", "needle"), [
    (["run", "ipd-classic", "--steps", str(MAX_STEPS + 1)], "--steps: 1000001 is out of range; allowed: 1..1,000,000"),
    (["run", "ipd-classic", "--steps", "0"], "--steps: 0 is out of range; allowed: 1..1,000,000"),
    (["run", "ipd-classic", "--set", "steps=5000000"], "scenario.steps must be at most 1,000,000"),
    (["sweep", "ipd-classic", "--grid", "steps=10,2000000"], "scenario.steps must be at most 1,000,000"),
])
def test_too_many_steps_is_one_line(args: list[str], needle: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 2
    assert needle in one_line_error(capsys)
    assert not out.exists()


def test_a_scenario_file_with_too_many_steps_names_the_file(tmp_path: Path) -> None:
    text = load_scenario("ipd-classic").text.replace("steps = 200", f"steps = {MAX_STEPS + 1}")
    path = tmp_path / "long.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=r"long\.toml: scenario\.steps must be at most 1,000,000"):
        load_scenario(path)


def test_run_model_refuses_too_many_steps_before_building() -> None:
    with pytest.raises(ScenarioError, match="steps must be at most 1,000,000, got 1,000,001"):
        run_model("ipd-classic", steps=MAX_STEPS + 1)


def test_run_help_states_the_bound() -> None:
    run = build_parser()._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    assert f"{MAX_STEPS:,}" in run.format_help()
