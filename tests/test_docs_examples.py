"""docs/extending.md shows the example plugin's files exactly as they are (tests/test_plugins.py runs them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "extending.md").read_text()
BLOCKS = re.findall(r"```\w+ file=(\S+)\n(.*?)```\n", DOC, flags=re.S)


def test_every_kind_has_a_worked_example() -> None:
    shown = {path for path, _ in BLOCKS}
    for part in ("environment", "policy", "check", "metric", "specs"):
        assert f"docs/examples/myplugin/{part}.py" in shown


@pytest.mark.parametrize(("path", "body"), BLOCKS, ids=[p for p, _ in BLOCKS])
def test_the_doc_shows_the_file(path: str, body: str) -> None:
    assert (ROOT / path).read_text() == body
