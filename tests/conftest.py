"""Shared fixtures: the shipped spec library and a writer for spec files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import scenarios  # noqa: F401  (environments register their checks on import)
from agents.spec import SpecLibrary


@pytest.fixture(scope="session")
def library() -> SpecLibrary:
    """The shipped specs (do not patch in place: ``patched`` returns a copy)."""
    return SpecLibrary()


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[str, str], Path]:
    """``write_spec(name, toml_text)`` writes ``tmp_path/<name>.toml`` and returns its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def no_templates(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No scenario seen and no model template kept (``sim.model_template``): the test makes its own."""
    from sim import model_template

    monkeypatch.setattr(model_template, "_seen", {})
    monkeypatch.setattr(model_template, "_templates", {})
    yield
