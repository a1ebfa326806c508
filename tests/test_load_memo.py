"""Loaded scenarios are remembered per process (sim/load_memo.py) while nothing they came from changed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents import spec as spec_mod
from agents.policies import POLICIES
from sim import load_memo
from sim.load_memo import LoadMemo, frozen
from sim.scenario import load_scenario

SCENARIO = """
[scenario]
id = "memo"
environment = "ipd"
steps = {steps}
[groups.a]
count = 2
policy = "tit_for_tat"
spec = "{spec}"
"""

SPEC = """
[spec]
id = "memo-local"
version = "{version}"
extends = ["platform"]
"""


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(load_memo, "LOADED", LoadMemo())
    yield


def _write(path: Path, text: str, mtime_ns: int) -> None:
    # An explicit mtime: two writes within the file system's clock tick must still differ.
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_repeated_load_is_the_same_value() -> None:
    first = load_scenario("ipd-classic", {"steps": 7})
    assert load_scenario("ipd-classic", {"steps": 7}) is first
    assert load_scenario("ipd-classic", {"steps": 8}) is not first
    assert load_scenario("ipd-classic", {"steps": 8}).steps == 8


def test_an_edited_scenario_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "memo.toml"
    _write(path, SCENARIO.format(steps=5, spec="empty"), 1_000_000_000)
    assert load_scenario(path).steps == 5
    _write(path, SCENARIO.format(steps=6, spec="empty"), 2_000_000_000)
    assert load_scenario(path).steps == 6


def test_an_edited_spec_layer_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    layer = folder / "memo-local.toml"
    _write(layer, SPEC.format(version="1"), 1_000_000_000)
    monkeypatch.setattr(spec_mod, "SPEC_FOLDERS", [folder])
    monkeypatch.setattr("sim.scenario.SPEC_FOLDERS", spec_mod.SPEC_FOLDERS)
    path = tmp_path / "memo.toml"
    _write(path, SCENARIO.format(steps=5, spec="memo-local"), 1_000_000_000)
    first = load_scenario(path)
    assert first.library.get("memo-local").version == "1"
    assert load_scenario(path) is first
    _write(layer, SPEC.format(version="2"), 2_000_000_000)
    again = load_scenario(path)
    assert again is not first
    assert again.library.get("memo-local").version == "2"


def test_a_new_registration_loads_again(monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_scenario("ipd-classic")
    monkeypatch.setitem(POLICIES, "memo_test_policy", POLICIES["tit_for_tat"])
    assert load_scenario("ipd-classic") is not first


@pytest.mark.parametrize(("value", "hashable"), [
    ({"a": [1, 2.5, "x"], "b": {"c": True}}, True),
    ({"a": None}, True),
    ({"a": {1, 2}}, False),
    ({"a": [object()]}, False),
])
def test_overrides_are_frozen_or_refused(value: dict[str, Any], hashable: bool) -> None:
    assert (frozen(value) is not None) == hashable


def test_overrides_of_equal_value_but_other_types_differ() -> None:
    assert frozen({"a": 1}) != frozen({"a": 1.0})
    assert frozen({"a": 1}) != frozen({"a": True})


def test_a_text_load_with_pinned_specs_is_remembered() -> None:
    from sim.scenario import load_scenario_text

    base = load_scenario("ipd-classic")
    texts = dict(base.spec_texts)
    first = load_scenario_text(base.text, texts, {"steps": 7})
    assert load_scenario_text(base.text, dict(texts), {"steps": 7}) is first
    assert load_scenario_text(base.text, texts, {"steps": 8}).steps == 8
    other = {**texts, "empty": texts["empty"] + "\n# edited\n"}
    assert load_scenario_text(base.text, other, {"steps": 7}) is not first
    assert load_scenario_text(base.text + "\n# edited\n", texts, {"steps": 7}) is not first


def test_a_text_load_without_pinned_specs_loads_again() -> None:
    from sim.scenario import load_scenario_text

    text = load_scenario("ipd-classic").text
    assert load_scenario_text(text, None, {"steps": 7}) is not load_scenario_text(text, None, {"steps": 7})


def test_a_shipped_id_is_found_by_its_name_until_something_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sim import scenario as scenario_mod

    monkeypatch.setattr(load_memo, "BY_ID", LoadMemo(stamp=load_memo.identity_stamp))
    folder = tmp_path / "shipped"
    folder.mkdir()
    shipped = folder / "memo.toml"
    _write(shipped, SCENARIO.format(steps=5, spec="empty"), 1_000_000_000)
    monkeypatch.setattr(scenario_mod, "SCENARIO_DIR", folder)
    monkeypatch.setattr(scenario_mod, "BY_ID", load_memo.BY_ID)
    monkeypatch.chdir(tmp_path)
    first = load_scenario("memo", {"steps": 7})
    assert len(load_memo.BY_ID) == 1  # filed by its id
    assert load_scenario("memo", {"steps": 7}) is first
    # The shipped file edited: read again (its stamp), and filed anew.
    _write(shipped, SCENARIO.format(steps=5, spec="empty") + "# edited\n", 2_000_000_000)
    second = load_scenario("memo", {"steps": 7})
    assert second is not first and second.text.endswith("# edited\n")
    # The load memo cleared: the id's entry goes with it.
    load_memo.LOADED.clear()
    assert load_scenario("memo", {"steps": 7}) is not second
    # A file of that name in the working directory comes first, as ``resolve_ref`` has it.
    _write(tmp_path / "memo", SCENARIO.format(steps=9, spec="empty"), 1_000_000_000)
    assert load_scenario("memo").steps == 9
    assert load_scenario("memo", {"steps": 7}).source == "memo"
