"""The report at 1,280 px in a real browser: nothing runs off the right edge.

The hard case: long dotted parameter names and every headline metric (ten
interval columns), alone and as a comparison of two sweeps. Figures are left
out (images are held to the page width by the style sheet, and drawing them is
most of a report's cost); intervals use few resamples for the same reason.
"""

from __future__ import annotations

import numpy as np

from analysis.aggregate import Bootstrap
from analysis.report import SECTIONS, SweepData, render_comparison
from tests.analysis_data import events_frame, runs_frame, steps_frame
from tests.browser import chromium, watch_errors

LONG = {"policy.threshold": "specs.confidential-negotiator.principles.protect_reserve_price."
                            "level_of_authority_needed_to_override",
        "spec.order": "groups.sellers_with_a_hidden_commission_goal.spec"}
HEADLINE = ("trust_mean", "welfare", "efficiency", "cooperation_rate", "conflicts",
            "compliance_rate", "deceptions", "violations", "gini", "survival")


def wide_sweep(scenario: str) -> SweepData:
    runs = runs_frame().rename(columns=LONG)
    rng = np.random.default_rng(0)
    for m in HEADLINE:
        if m not in runs:
            runs[m] = rng.normal(1000.0, 300.0, len(runs)).round(6)
    runs.loc[runs["status"] != "done", list(HEADLINE)] = np.nan
    meta = {"scenario": scenario, "question": "Does a long parameter name still fit?",
            "grid": {LONG["policy.threshold"]: [0.2, 0.8],
                     LONG["spec.order"]: ["honesty", "secrecy"]},
            "scenario_text": "[scenario]\nid = 'x'\n# " + "a-very-long-comment-" * 40}
    return SweepData(meta=meta, runs=runs, params=tuple(LONG.values()), metrics=HEADLINE,
                     steps=steps_frame(), events=events_frame())


def test_reports_fit_a_1280_px_window(tmp_path):
    tables = [s for s in SECTIONS if s[0] != "figures"]
    boot = Bootstrap(resamples=100)
    # A comparison holds each sweep's own report sections too, so it checks both layouts.
    pages = {"two": render_comparison([wide_sweep("negotiation"), wide_sweep("commons")], boot,
                                      tables)}
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = watch_errors(page)
        for name, html in pages.items():
            path = tmp_path / f"{name}.html"
            path.write_text(html, encoding="utf-8")
            page.goto(path.as_uri())
            width = page.evaluate("document.documentElement.scrollWidth")
            client = page.evaluate("document.documentElement.clientWidth")
            assert width <= client, f"{name}: document is {width} px wide in a {client} px window"
            widest = page.evaluate(
                "Math.max(...[...document.querySelectorAll('table')].map(t => t.scrollWidth))")
            assert widest <= client
            page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        assert errors == []
