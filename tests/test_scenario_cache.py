"""Scenario and spec files are parsed once per version: repeat loads are cheap, edits are seen."""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path

import pytest

import sim.scenario as scenario_mod
from agents.errors import ScenarioError
from sim.scenario import load_scenario, resolve_ref

SCENARIO = """
[scenario]
id = "cached"
environment = "ipd"
steps = {steps}
spec_dirs = ["specs"]
[groups.a]
count = 2
policy = "tit_for_tat"
spec = "local"
"""

SPEC = """
[spec]
id = "local"
version = "{version}"
extends = ["platform"]
"""


def _write(path: Path, text: str, mtime_ns: int) -> None:
    # An explicit mtime: two writes within the file system's clock tick must still differ.
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    (tmp_path / "specs").mkdir()
    _write(tmp_path / "specs" / "local.toml", SPEC.format(version="1"), 10**18)
    path = tmp_path / "cached.toml"
    _write(path, SCENARIO.format(steps=5), 10**18)
    return path


def test_repeat_loads_parse_nothing(scenario_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load_scenario("ipd-classic", {"steps": 7})
    load_scenario(scenario_file)
    calls: list[int] = []
    real = tomllib.loads
    monkeypatch.setattr(tomllib, "loads", lambda text: calls.append(1) or real(text))
    assert load_scenario("ipd-classic", {"steps": 8}).steps == 8
    assert load_scenario(scenario_file).steps == 5
    assert calls == []


def test_an_edited_scenario_file_is_read_again(scenario_file: Path) -> None:
    assert load_scenario(scenario_file).steps == 5
    _write(scenario_file, SCENARIO.format(steps=6), 2 * 10**18)  # same size, new mtime
    assert load_scenario(scenario_file).steps == 6
    _write(scenario_file, SCENARIO.format(steps=60), 2 * 10**18)  # same mtime, new size
    assert load_scenario(scenario_file).steps == 60


def test_an_edited_spec_file_is_read_again(scenario_file: Path) -> None:
    spec = scenario_file.parent / "specs" / "local.toml"
    assert load_scenario(scenario_file).library.get("local").version == "1"
    _write(spec, SPEC.format(version="2"), 2 * 10**18)
    sc = load_scenario(scenario_file)
    assert sc.library.get("local").version == "2"
    # Provenance is the file as it is now.
    assert sc.spec_texts["local"] == spec.read_text()


def test_a_spec_file_added_to_a_folder_is_found(scenario_file: Path) -> None:
    load_scenario(scenario_file)
    extra = scenario_file.parent / "specs" / "extra.toml"
    extra.write_text('[spec]\nid = "extra"\n')
    assert "extra" in load_scenario(scenario_file, {"groups.a.spec": "extra"}).library


def test_loads_cannot_change_each_other(scenario_file: Path) -> None:
    first = load_scenario(scenario_file, {"groups.a.count": 3})
    first.raw["groups"]["a"]["policy"] = "defector"
    first.raw["scenario"]["spec_dirs"].append("elsewhere")
    again = load_scenario(scenario_file)
    assert again.raw["groups"]["a"] == {"count": 2, "policy": "tit_for_tat", "spec": "local"}
    assert again.raw["scenario"]["spec_dirs"] == ["specs"]


def test_an_override_value_stays_the_callers(scenario_file: Path) -> None:
    dirs = ["specs"]
    sc = load_scenario(scenario_file, {"spec_dirs": dirs})
    sc.raw["scenario"]["spec_dirs"].append("elsewhere")
    assert dirs == ["specs"]


def test_provenance_is_the_file_text(scenario_file: Path) -> None:
    sc = load_scenario(scenario_file)
    load_scenario(scenario_file)
    assert sc.text == scenario_file.read_text()
    shipped = load_scenario("ipd-classic")
    text = (scenario_mod.SCENARIO_DIR / "ipd-classic.toml").read_text()
    assert shipped.text == text
    assert hashlib.sha256(text.encode()).hexdigest() == hashlib.sha256(shipped.text.encode()).hexdigest()


def test_invalid_toml_is_still_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[scenario\n")
    for _ in range(2):  # the second time from whatever the cache holds
        with pytest.raises(ScenarioError, match=r"bad\.toml: not valid TOML: ") as err:
            load_scenario(path)
        assert "\n" not in str(err.value)


def test_ids_resolve_by_file_name_or_by_declared_id(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "named.toml").write_text('[scenario]\nid = "named"\n')
    (tmp_path / "file-name.toml").write_text('[scenario]\nid = "other-id"\n')
    monkeypatch.setattr(scenario_mod, "SCENARIO_DIR", tmp_path)
    assert resolve_ref("named") == tmp_path / "named.toml"
    assert resolve_ref("other-id") == tmp_path / "file-name.toml"
    with pytest.raises(ScenarioError, match="unknown scenario 'file-name'; available: named, other-id"):
        resolve_ref("file-name")
