"""The HTML report: valid, self-contained, and carrying the sweep's facts."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import pytest

from agents.errors import SpecboundError
from analysis.report import SweepData, render_report, write_report
from tests.analysis_data import events_frame, runs_frame, steps_frame, write_store

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Checker(HTMLParser):
    """Records unbalanced tags and every image source."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src") or "")
        for key in ("href", "src"):
            if key in attrs and tag != "img" and not str(attrs[key]).startswith(("#", "data:")):
                self.external.append(attrs[key])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check(html_text: str) -> Checker:
    checker = Checker()
    checker.feed(html_text)
    checker.close()
    return checker


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return write_store(tmp_path_factory.mktemp("sweep") / "out")


@pytest.fixture(scope="module")
def report(store) -> str:
    path = write_report(store, store / "report.html")
    return path.read_text(encoding="utf-8")


def test_report_is_balanced_html_with_embedded_images(report):
    checker = check(report)
    assert report.startswith("<!DOCTYPE html>")
    assert checker.problems == []
    assert checker.stack == []
    assert checker.external == []
    # 3 metric figures, 1 time series, 2 conflict heatmaps, 1 compliance chart.
    assert len(checker.images) == 7
    for src in checker.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")


@pytest.mark.parametrize("needle", [
    # the question and the parameters
    "Does honesty first raise trust?", "policy.threshold", "0.2, 0.8", "honesty, secrecy",
    # results with intervals, hand-computed (see tests/analysis_data.py)
    # rounded to two significant digits of the interval's width
    "0.60 [0.50, 0.70]", "0.4 [0.4, 0.4]", "failed runs (excluded)",
    # paired differences: secrecy - honesty, and 0.8 - 0.2 among honesty runs
    "spec.ordersecrecy − honesty", "-0.2 [-0.2, -0.2]",
    "policy.threshold0.8 − 0.2spec.order=honesty2", "0.15 [0.10, 0.20]",
    # what was found: a sentence per contrast, pooled over the other path
    "policy.threshold = 0.8 instead of 0.2 raises mean trust by 0.13 [0.10, 0.20] "
    "(95% interval, 3 paired runs).",
    "spec.order = secrecy instead of honesty lowers welfare by 2 [2, 2]",
    # top conflicts with an example
    "do_not_lie (root)", "protect_reserve (developer)", "run 0, step 1, agent 0: decline",
    "decline keeps do_not_lie over protect_reserve",
    # provenance
    "git:test", "sha256 scenario", "sha256 spec:honest-negotiator", "sweep-test",
])
def test_report_contents(report, needle):
    assert needle in "".join(check(report).text)


def test_report_provenance_hashes_match_texts(report, store):
    from sim.runs.store import Store, sha256

    with Store.open(store) as s:
        meta = s.meta()
    assert sha256(meta["scenario_text"]) in report
    assert meta["hashes"]["scenario"] in report


def test_report_orders_top_conflicts_by_count(report):
    text = "".join(check(report).text)
    assert text.index("do_not_lie (root)") < text.index("be_helpful (user)")


def test_report_without_conflicts_or_grid():
    runs = runs_frame().drop(columns=["policy.threshold", "spec.order"])
    data = SweepData(meta={"scenario": "ipd"}, runs=runs, params=(),
                     metrics=("trust_mean", "welfare"), steps=steps_frame(),
                     events=events_frame().iloc[0:0])
    checker = check(render_report(data))
    text = "".join(checker.text)
    assert checker.problems == [] and checker.stack == []
    assert "No rule conflict was recorded." in text
    assert "No parameter was swept" in text
    assert "(no question recorded for this sweep)" in text
    assert len(checker.images) == 1  # the time series only


def test_report_escapes_text():
    meta = {"scenario": "x", "question": "<script>alert(1)</script> & more"}
    data = SweepData(meta=meta, runs=runs_frame(), params=(), metrics=("welfare",),
                     steps=steps_frame().iloc[0:0], events=events_frame().iloc[0:0])
    html_text = render_report(data)
    assert "<script>" not in html_text
    assert "&lt;script&gt;" in html_text


@pytest.mark.parametrize(("case", "message"), [
    ("no store", "no specbound store"),
    ("no folder", "no such folder"),
    ("all failed", "no finished runs (8 failed of 8)"),
    ("bad output", "does not exist"),
])
def test_write_report_errors_leave_no_file(tmp_path, case, message):
    folder = tmp_path / "sweep"
    out = tmp_path / "report.html"
    if case == "no store":
        folder.mkdir()
    elif case == "all failed":
        write_store(folder, all_failed=True)
    elif case == "bad output":
        write_store(folder)
        out = tmp_path / "nowhere" / "report.html"
    with pytest.raises(SpecboundError, match=message.replace("(", r"\(").replace(")", r"\)")):
        write_report(folder, out)
    assert not out.exists()
    assert not any(p.suffix in (".html", ".tmp") for p in tmp_path.rglob("*"))
