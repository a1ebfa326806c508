"""The README's Performance table is generated from the bench's own files, and stays so."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.harness import Result
from bench.table import (
    BEGIN,
    END,
    KEPT_RUNS,
    README_PATH,
    load_history,
    load_results,
    ratio_range,
    record_run,
    render,
    replace_block,
)


def row(name: str, ratio: float | None) -> Result:
    return Result(name, 1.0, 1.0, "peer", "x", ratio, 1.0, True)


def test_history_keeps_the_last_runs(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    for k in range(KEPT_RUNS + 2):
        record_run([row("a", float(k))], path, when=0)
    runs = load_history(path)
    assert [r["ratios"]["a"] for r in runs] == [float(k) for k in range(2, KEPT_RUNS + 2)]
    assert ratio_range("a", runs) == f"2-{KEPT_RUNS + 1} ({KEPT_RUNS})"
    assert ratio_range("missing", runs) == "-"


def test_a_readme_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="block"):
        replace_block("# no table here\n", "| a |")
    assert replace_block(f"x\n{BEGIN}\nold\n{END}\ny", "new") == f"x\n{BEGIN}\nnew\n{END}\ny"


def test_the_readme_shows_the_recorded_runs() -> None:
    # The README's table is exactly what the committed results and history render to.
    text = README_PATH.read_text(encoding="utf-8")
    assert replace_block(text, render(load_results(), load_history())) == text


def test_a_run_records_its_minutes_and_the_table_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    record_run([row("a", 1.0)], path, when=0, seconds=612.0)
    record_run([row("a", 2.0)], path, when=0)  # a run recorded without its time
    runs = load_history(path)
    assert runs[0]["minutes"] == 10.2 and "minutes" not in runs[1]
    footer = render([row("a", 2.0)], runs).splitlines()[-1]
    assert ", 10.2 min)" in footer and footer.count("min)") == 1
