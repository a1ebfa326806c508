"""Aggregates against values worked out by hand on the synthetic sweep."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.errors import SpecboundError
from analysis.aggregate import (
    Bootstrap,
    bootstrap_mean_ci,
    compliance_table,
    conflict_events,
    conflict_matrix,
    finished,
    paired_differences,
    summarize,
    timeseries,
    top_conflicts,
)
from tests.analysis_data import events_frame, runs_frame, steps_frame

THRESHOLD, ORDER = "policy.threshold", "spec.order"


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return runs_frame()


def test_failed_runs_are_split_off_and_counted(runs):
    done, n_failed = finished(runs)
    assert n_failed == 1
    assert len(done) == 7
    assert 7 not in done["run_id"].tolist()


@pytest.mark.parametrize(("key", "n", "n_failed", "mean", "lo", "hi"), [
    ((0.2, "honesty"), 2, 0, 0.6, 0.5, 0.7),
    ((0.2, "secrecy"), 2, 0, 0.4, 0.3, 0.5),
    ((0.8, "honesty"), 2, 0, 0.75, 0.6, 0.9),
    # One run failed: the point keeps its one finished run and says so.
    ((0.8, "secrecy"), 1, 1, 0.4, 0.4, 0.4),
])
def test_summarize_per_grid_point(runs, key, n, n_failed, mean, lo, hi):
    table = summarize(runs, "trust_mean", [THRESHOLD, ORDER]).set_index([THRESHOLD, ORDER])
    row = table.loc[key]
    assert (row["n"], row["n_failed"]) == (n, n_failed)
    # With two runs the bootstrap means are 25% min, 50% mid, 25% max: the 95%
    # percentile interval spans the two values exactly.
    assert row[["mean", "lo", "hi"]].tolist() == pytest.approx([mean, lo, hi])


@pytest.mark.parametrize(("by", "expected"), [
    (THRESHOLD, {0.2: (4, 0, 0.5), 0.8: (3, 1, (0.6 + 0.9 + 0.4) / 3)}),
    (ORDER, {"honesty": (4, 0, 0.675), "secrecy": (3, 1, 0.4)}),
    (None, {None: (7, 1, (0.5 + 0.7 + 0.3 + 0.5 + 0.6 + 0.9 + 0.4) / 7)}),
])
def test_summarize_pools_over_other_parameters(runs, by, expected):
    table = summarize(runs, "trust_mean", by)
    got = {(row[by] if by else None): (row["n"], row["n_failed"], row["mean"])
           for _, row in table.iterrows()}
    assert got.keys() == expected.keys()
    for k, (n, failed, mean) in expected.items():
        assert got[k][:2] == (n, failed)
        assert got[k][2] == pytest.approx(mean)
        assert table["lo"].le(table["mean"]).all() and table["hi"].ge(table["mean"]).all()


def test_point_where_every_run_failed_still_appears():
    frame = pd.DataFrame({"run_id": [0, 1, 2], "rep": [0, 0, 1], "status": ["done", "failed",
                          "failed"], "x": [1, 2, 2], "m": [3.0, np.nan, np.nan]})
    table = summarize(frame, "m", "x").set_index("x")
    assert table.loc[2, "n"] == 0 and table.loc[2, "n_failed"] == 2
    assert np.isnan(table.loc[2, "mean"])


@pytest.mark.parametrize(("by", "params", "expected"), [
    # secrecy - honesty within each threshold, paired by replicate (run 7 failed: one pair).
    (ORDER, [THRESHOLD], {(0.2, "secrecy"): (2, -0.2, -0.2, -0.2), (0.8, "secrecy"): (1, -0.2, -0.2, -0.2)}),
    (THRESHOLD, [ORDER], {("honesty", 0.8): (2, 0.15, 0.1, 0.2), ("secrecy", 0.8): (1, 0.1, 0.1, 0.1)}),
])
def test_paired_differences(runs, by, params, expected):
    table = paired_differences(runs, "trust_mean", by, params=params)
    other = params[0]
    got = {(row[other], row[by]): (row["n_pairs"], row["mean"], row["lo"], row["hi"])
           for _, row in table.iterrows()}
    assert got.keys() == expected.keys()
    for key, (n, mean, lo, hi) in expected.items():
        assert got[key][0] == n
        assert got[key][1:] == pytest.approx((mean, lo, hi))


def test_pairing_removes_shared_noise(runs):
    """Unpaired intervals overlap, the paired one excludes zero: pairing matters."""
    at = runs[runs[THRESHOLD] == 0.2]
    means = summarize(at, "trust_mean", ORDER).set_index(ORDER)
    assert means.loc["secrecy", "hi"] >= means.loc["honesty", "lo"]
    diff = paired_differences(at, "trust_mean", ORDER)
    assert diff.loc[0, "hi"] < 0


@pytest.mark.parametrize(("call", "message"), [
    (lambda r: summarize(r, "trust_meen", THRESHOLD), "unknown metric 'trust_meen'"),
    (lambda r: summarize(r, "trust_mean", "policy.treshold"), "unknown parameter"),
    (lambda r: paired_differences(r, "trust_mean", ORDER, baseline="candour"), "baseline"),
    (lambda r: Bootstrap(level=1.5), "confidence level"),
    (lambda r: Bootstrap(resamples=0), "resamples"),
])
def test_bad_input_is_one_line(runs, call, message):
    with pytest.raises(SpecboundError, match=message) as info:
        call(runs)
    assert "\n" not in str(info.value)


def test_unknown_metric_lists_metrics(runs):
    with pytest.raises(SpecboundError) as info:
        summarize(runs, "trust", THRESHOLD)
    assert "trust_mean" in str(info.value) and "welfare" in str(info.value)


@pytest.mark.parametrize(("values", "lo", "hi"), [
    ([2.0, 2.0, 2.0], 2.0, 2.0),
    ([5.0], 5.0, 5.0),
    ([0.0, 1.0], 0.0, 1.0),
])
def test_bootstrap_degenerate_cases(values, lo, hi):
    got = bootstrap_mean_ci(np.array(values))
    assert got == pytest.approx((lo, hi))


def test_bootstrap_empty_is_nan():
    lo, hi = bootstrap_mean_ci(np.array([]))
    assert np.isnan(lo) and np.isnan(hi)


@pytest.mark.parametrize(("a", "b", "same"), [
    (Bootstrap(seed=3), Bootstrap(seed=3), True),
    (Bootstrap(seed=3), Bootstrap(seed=4), False),
])
def test_bootstrap_is_seeded(a, b, same):
    values = np.random.default_rng(0).normal(size=25)
    assert (bootstrap_mean_ci(values, a) == bootstrap_mean_ci(values, b)) is same


@pytest.mark.parametrize(("narrow", "wide"), [(0.5, 0.95), (0.9, 0.99)])
def test_higher_level_gives_wider_interval(narrow, wide):
    values = np.random.default_rng(1).normal(size=30)
    lo_n, hi_n = bootstrap_mean_ci(values, Bootstrap(level=narrow))
    lo_w, hi_w = bootstrap_mean_ci(values, Bootstrap(level=wide))
    assert lo_w < lo_n < hi_n < hi_w


def test_bootstrap_interval_covers_the_true_mean_about_as_often_as_claimed():
    rng = np.random.default_rng(7)
    boot = Bootstrap(level=0.9, resamples=500)
    hits = 0
    for _ in range(200):
        lo, hi = bootstrap_mean_ci(rng.normal(1.0, 2.0, size=40), boot)
        hits += lo <= 1.0 <= hi
    assert 0.8 <= hits / 200 <= 0.97


def test_bootstrap_columns_resample_whole_rows():
    values = np.array([[0.0, 0.0], [1.0, 2.0]])
    lo, hi = bootstrap_mean_ci(values)
    assert lo == pytest.approx([0.0, 0.0]) and hi == pytest.approx([1.0, 2.0])


@pytest.mark.parametrize(("order", "step", "n", "mean"), [
    ("honesty", 0, 4, 0.0),
    ("honesty", 3, 4, (0.5 + 0.7 + 0.6 + 0.9) / 4),
    ("secrecy", 3, 3, (0.3 + 0.5 + 0.4) / 3),
    ("secrecy", 1, 3, (0.3 + 0.5 + 0.4) / 9),
])
def test_timeseries_mean_per_step(runs, order, step, n, mean):
    table = timeseries(steps_frame(), "trust_mean", runs=runs, hue=ORDER).set_index([ORDER, "step"])
    row = table.loc[(order, step)]
    assert row["n"] == n
    assert row["mean"] == pytest.approx(mean)
    assert row["lo"] <= row["mean"] <= row["hi"]


def test_timeseries_unknown_metric_lists_step_metrics(runs):
    with pytest.raises(SpecboundError, match="available: conflicts, trust_mean"):
        timeseries(steps_frame(), "welfare", runs=runs)


def test_conflict_events_parse_store_json():
    conflicts = conflict_events(events_frame())
    assert len(conflicts) == 10
    assert set(conflicts["winner_level"]) == {"root", "developer"}


@pytest.mark.parametrize(("source", "by", "cells"), [
    ("events", "level", {("root", "developer"): 7, ("developer", "user"): 3,
                         ("root", "user"): 0}),
    ("events", "principle", {("do_not_lie", "protect_reserve"): 7,
                             ("protect_reserve", "be_helpful"): 3,
                             ("do_not_lie", "be_helpful"): 0}),
    # From a runs table: mean per finished run of conflicts_by_level.root.developer.
    ("runs", "level", {("root", "developer"): 3 / 7}),
])
def test_conflict_matrix(source, by, cells):
    frame = events_frame() if source == "events" else runs_frame()
    matrix = conflict_matrix(frame, by)
    for (winner, loser), count in cells.items():
        assert matrix.loc[winner, loser] == pytest.approx(count)


def test_conflict_matrix_orders_levels_by_authority():
    matrix = conflict_matrix(events_frame(), "level")
    assert list(matrix.index) == ["root", "developer"]
    assert list(matrix.columns) == ["developer", "user"]


@pytest.mark.parametrize(("frame", "by", "message"), [
    (runs_frame(), "principle", "need conflict events"),
    (runs_frame(), "agent", "allowed: level, principle"),
    (pd.DataFrame({"run_id": [0], "status": ["done"], "x": [1.0]}), "level", "no conflict data"),
])
def test_conflict_matrix_bad_input(frame, by, message):
    with pytest.raises(SpecboundError, match=message):
        conflict_matrix(frame, by)


def test_top_conflicts_with_earliest_example():
    top = top_conflicts(events_frame())
    assert top[["winner", "loser", "count", "runs"]].values.tolist() == [
        ["do_not_lie", "protect_reserve", 7, 7], ["protect_reserve", "be_helpful", 3, 3]]
    assert top.loc[0, ["run_id", "step", "act"]].tolist() == [0, 1, "decline"]
    assert top.loc[1, ["run_id", "step", "act"]].tolist() == [2, 2, "refuse"]
    assert len(top_conflicts(events_frame(), n=1)) == 1


def test_compliance_table(runs):
    table = compliance_table(runs)
    assert table["principle"].tolist() == ["protect_reserve", "do_not_lie"]
    assert table["mean"].tolist() == pytest.approx([(2 * 0.5 + 2 * 0.5 + 3) / 7,
                                                    (4 + 3 * 0.5) / 7])
    assert table["n"].tolist() == [7, 7]


def test_compliance_table_without_compliance_metrics():
    with pytest.raises(SpecboundError, match="no compliance"):
        compliance_table(pd.DataFrame({"run_id": [0], "status": ["done"], "welfare": [1.0]}))
