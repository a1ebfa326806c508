"""The report reads top down: question, findings, figures, tables; several sweeps compare."""

from __future__ import annotations

import pytest

from analysis.aggregate import Bootstrap
from analysis.findings import Finding, main_findings, sentence
from analysis.precision import decimals_for, interval, rounded
from analysis.report import SECTIONS, SweepData, render_report, with_section, write_report
from tests.analysis_data import events_frame, runs_frame, steps_frame, write_store


@pytest.mark.parametrize(("mean", "lo", "hi", "shown"), [
    (0.61234, 0.5, 0.7, "0.61 [0.50, 0.70]"),
    (0.15, 0.1, 0.2, "0.15 [0.10, 0.20]"),
    (1234.5, 1080.0, 1380.0, "1230 [1080, 1380]"),
    (0.000123, 0.0001, 0.00015, "0.000123 [0.000100, 0.000150]"),
    (0.4, 0.4, 0.4, "0.4 [0.4, 0.4]"),  # no width: four significant digits
    (-0.2, -0.2 - 1e-17, -0.2 + 1e-17, "-0.2 [-0.2, -0.2]"),  # float noise is no width
    (-0.0001, -0.03, 0.02, "0.000 [-0.030, 0.020]"),  # never "-0.000"
    (float("nan"), float("nan"), float("nan"), "- [-, -]"),
])
def test_interval_rounded_to_its_width(mean, lo, hi, shown):
    assert interval(mean, lo, hi) == shown


def test_rounding_helpers():
    assert decimals_for(0.0, 0.02) == 3
    assert decimals_for(1.0, 1.0) is None
    assert rounded(1234.5, -1) == "1230"


@pytest.mark.parametrize(("finding", "text"), [
    (Finding("trust_mean", "p", 1, 0, 10, 0.123, 0.1, 0.15),
     "p = 1 instead of 0 raises mean trust by 0.123 [0.100, 0.150] (95% interval, 10 paired runs)."),
    (Finding("welfare", "p", "b", "a", 4, -12.0, -15.0, -9.0),
     "p = b instead of a lowers welfare by 12.0 [9.0, 15.0] (95% interval, 4 paired runs)."),
    (Finding("conflicts", "p", 1, 0, 5, 0.5, -1.0, 2.0),
     "p = 1 instead of 0 leaves rule conflicts without a clear change: 0.5 [-1.0, 2.0], "
     "an interval that includes zero (95% interval, 5 paired runs)."),
    (Finding("welfare", "p", 1, 0, 3, 0.0, 0.0, 0.0),
     "p = 1 instead of 0 leaves welfare unchanged in every pair (3 paired runs)."),
    (Finding("trust_mean", None, None, None, 8, 0.6, 0.5, 0.7),
     "Mean mean trust: 0.60 [0.50, 0.70] (95% interval, 8 runs)."),
])
def test_finding_sentences(finding, text):
    assert sentence(finding) == text


def test_main_findings_pool_each_parameter_over_the_others():
    runs = runs_frame()
    found = main_findings(runs, ("policy.threshold", "spec.order"), ("trust_mean",), Bootstrap())
    by = {f.by: f for f in found}
    # honesty: +0.1 and +0.2; secrecy: +0.1 (its rep 1 failed): mean of three pairs.
    assert by["policy.threshold"].n == 3
    assert by["policy.threshold"].mean == pytest.approx((0.1 + 0.2 + 0.1) / 3)
    assert by["spec.order"].mean == pytest.approx(-0.2)
    assert by["spec.order"].clear
    # The sweep's own order names the baseline: secrecy first makes honesty the contrast.
    given = main_findings(runs, ("policy.threshold", "spec.order"), ("trust_mean",), Bootstrap(),
                          order={"spec.order": ["secrecy", "honesty"]})
    assert (given[1].by, given[1].value, given[1].baseline) == ("spec.order", "honesty", "secrecy")
    assert given[1].mean == pytest.approx(0.2)


def test_sections_come_question_findings_figures_tables():
    data = SweepData(meta={"scenario": "x", "question": "Q?"}, runs=runs_frame(),
                     params=("policy.threshold", "spec.order"), metrics=("trust_mean", "welfare"),
                     steps=steps_frame(), events=events_frame())
    html = render_report(data)
    order = [html.index(h) for h in ("<h2>Question</h2>", "<h2>What was found</h2>",
                                     "<h2>Figures</h2>", "<h2>Results</h2>",
                                     "<h3>Paired differences</h3>", "<h2>Top conflicts</h2>",
                                     "<h2>Provenance</h2>")]
    assert order == sorted(order)
    assert html.count("<h3>Paired differences</h3>") == 1
    assert html.count("<table>") == 5  # facts, results, differences, conflicts, provenance


def test_a_section_plugs_in_where_asked():
    def evals(data, boot):
        return f"<h2>Evaluation</h2><p>{len(data.runs)} runs scored</p>"

    sections = with_section(SECTIONS, "eval", evals, after="findings")
    assert [n for n, _ in sections][:3] == ["question", "findings", "eval"]
    data = SweepData(meta={"scenario": "x"}, runs=runs_frame(), params=(), metrics=("welfare",),
                     steps=steps_frame().iloc[0:0], events=events_frame().iloc[0:0])
    html = render_report(data, sections=sections)
    assert html.index("What was found") < html.index("8 runs scored") < html.index("Figures")
    with pytest.raises(ValueError, match="exists already"):
        with_section(sections, "eval", evals)
    with pytest.raises(ValueError, match="no report section 'nope'"):
        with_section(SECTIONS, "x", evals, after="nope")


def test_several_folders_make_one_comparison(tmp_path):
    first = write_store(tmp_path / "a")
    second = write_store(tmp_path / "b")
    # Figures are drawn as for one sweep; leaving them out keeps this test quick.
    tables = [s for s in SECTIONS if s[0] != "figures"]
    html = write_report([first, second], tmp_path / "r.html", Bootstrap(resamples=200),
                        sections=tables).read_text(encoding="utf-8")
    assert "specbound: 2 sweeps compared" in html
    side = html[html.index("<h2>Side by side</h2>"):]
    side = side[:side.index("</table>")]
    # Both sweeps, every grid point each (4 + 4 rows), headline metrics with intervals.
    assert side.count("<tr>") == 1 + 8
    assert side.count("1. negotiation") == 4 and side.count("2. negotiation") == 4
    assert "0.60 <span class=\"ci\">[0.50, 0.70]</span>" in side
    assert html.count("<h2>Question</h2>") == 2  # each sweep's own sections follow


def test_several_folders_refuse_one_sweep_id(tmp_path):
    from agents.errors import SpecboundError

    first, second = write_store(tmp_path / "a"), write_store(tmp_path / "b")
    with pytest.raises(SpecboundError, match="--sweep picks a sweep of one folder"):
        write_report([first, second], tmp_path / "r.html", sweep="abc")
    assert not (tmp_path / "r.html").exists()
