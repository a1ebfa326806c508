"""Fuzz every command in-process: exit 0, 1 or 2, never a traceback, one line on a refusal.

Generated cases (tests/fuzz_cases.py) cover scenario files, specs, overrides,
grid values, every argument of plot, report, export, rerun and sweep, and damaged
stores of each kind; hypothesis adds --set values and TOML texts of its own.
``make fuzz`` runs many more of the generated cases.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_cases import (
    DAMAGES,
    TRUNCATIONS,
    argument_cases,
    damage,
    invoke,
    listing,
    make_store,
    override_cases,
    problems,
    scenario_cases,
    spec_cases,
    store_commands,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("fuzz") / "store")


@pytest.fixture(autouse=True)
def serial(monkeypatch: pytest.MonkeyPatch) -> None:
    # One process: a sweep case must not start a worker pool per case.
    monkeypatch.setenv("SPECBOUND_NO_CACHE", "1")


def check(cases: list[list[str]], folder: Path | None = None) -> None:
    failures: list[str] = []
    for argv in cases:
        before = listing(folder) if folder is not None else None
        failures += problems(argv, invoke(argv), before, folder)
    assert not failures, "\n".join(failures[:5])


def test_mutated_scenario_files(tmp_path: Path) -> None:
    check(list(scenario_cases(random.Random(17), tmp_path, 300)))


def test_hostile_overrides() -> None:
    check(list(override_cases(random.Random(18), 200)))


def test_mutated_specs(tmp_path: Path) -> None:
    check(list(spec_cases(random.Random(19), tmp_path, 200)))


def test_every_argument_of_every_command(store: Path, tmp_path: Path) -> None:
    outs = tmp_path / "outs"
    outs.mkdir()
    cases = [[*c, "--workers", "1"] if c[0] == "sweep" and "--workers" not in c else c
             for c in argument_cases(random.Random(20), store, outs, 250)]
    check(cases)


@pytest.mark.parametrize("kind", [*DAMAGES, *TRUNCATIONS])
def test_damaged_stores(kind: str, store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "damaged"
    shutil.copytree(store, copy)
    damage(copy, kind)
    outs = tmp_path / "outs"
    outs.mkdir()
    commands = [c for c in store_commands(str(copy), outs) if c[0] != "sweep"]
    commands.append(["sweep", "commons", "--runs", "1", "--workers", "1", "--no-progress", "--out", str(copy)])
    failures = []
    for argv in commands:
        before = listing(copy)
        result = invoke(argv)
        failures += problems(argv, result, before, copy)
        if argv[0] not in ("export", "sweep"):  # a damaged store is refused, naming the damage
            assert result.code == 2 and "store" in result.err, (argv, result.err)
    assert not failures, "\n".join(failures[:3])
    assert not list(copy.glob("*-wal")) and not list(copy.glob("*-shm"))


_TOML_ATOMS = st.sampled_from(["nan", "inf", "-1", "0", str(2**63), str(2**64), '"x"', "true", "[]", "{}",
                               "1e308", "[[1]]", '["join"]', "0.5", "3"])
# Integers skip the middle: a count of a few million agents is valid and builds a real
# population (minutes in a 2-step run), while huge counts are refused by the capacity check.
_INTEGERS = st.one_of(st.integers(max_value=20_000), st.integers(min_value=10**12))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["steps", "environment.growth", "groups.trawlers.count", "network.degree",
                             "network.p", "groups.villagers.params.order", "events", "sweep.runs",
                             "groups.trawlers.error_rate", "environment.capacity", "scenario.spec_dirs"]),
       value=st.one_of(_TOML_ATOMS, _INTEGERS, st.floats(allow_nan=True, allow_infinity=True).map(repr),
                       st.text(max_size=12)))
def test_hypothesis_set_values(path: str, value: str) -> None:
    argv = ["run", "commons", "--steps", "2", "--set", f"{path}={value}"]
    assert not problems(argv, invoke(argv))


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet='[]{}="=.,ab01 \n#\'', max_size=80))
def test_hypothesis_scenario_texts(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("h") / "s.toml"
    path.write_text(text)
    argv = ["run", str(path), "--steps", "2"]
    assert not problems(argv, invoke(argv))
