"""``specbound plot``: every option is used by the kind asked for, or refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

import analysis.plots
from cli import analysis as cli
from tests.analysis_data import write_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("options") / "sweep")


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The compliance columns each compliance figure was drawn from."""
    seen: list[list[str]] = []
    real = analysis.plots.plot_compliance

    def spy(runs, boot):
        seen.append(sorted(c for c in runs.columns if c.startswith("compliance.")))
        return real(runs, boot=boot)

    monkeypatch.setattr(analysis.plots, "plot_compliance", spy)
    return seen


def plot(store: Path, tmp_path: Path, *args: str) -> int:
    return cli.main(["plot", str(store), *args, "-o", str(tmp_path / "fig.png")])


@pytest.mark.parametrize(("metric", "shown"), [
    ("do_not_lie", ["compliance.do_not_lie"]),
    ("compliance.protect_reserve", ["compliance.protect_reserve"]),
    ("do_not_lie, compliance.protect_reserve", ["compliance.do_not_lie", "compliance.protect_reserve"]),
])
def test_compliance_shows_the_principles_named(store: Path, tmp_path: Path, drawn: list[list[str]],
                                               metric: str, shown: list[str]) -> None:
    assert plot(store, tmp_path, "--kind", "compliance", "--metric", metric) == 0
    assert drawn == [shown]
    assert (tmp_path / "fig.png").is_file()


def test_compliance_without_metric_shows_every_principle(store: Path, tmp_path: Path,
                                                         drawn: list[list[str]]) -> None:
    assert plot(store, tmp_path, "--kind", "compliance") == 0
    assert drawn == [["compliance.do_not_lie", "compliance.protect_reserve"]]


@pytest.mark.parametrize(("args", "needles"), [
    (["--kind", "compliance", "--metric", "be_honest"],
     ["--metric 'be_honest': no compliance metric", "available: do_not_lie, protect_reserve"]),
    (["--kind", "compliance", "--metric", " , "], ["name one or more principles"]),
    (["--kind", "compliance", "--by", "spec.order"],
     ["--by is not used by --kind compliance; it applies to --kind line, bar, heatmap",
      "--kind bar --metric compliance.<principle> --by PATH"]),
    (["--kind", "heatmap", "--metric", "welfare"],
     ["--metric is not used by --kind heatmap; it applies to --kind line, bar, timeseries, compliance",
      "--by level|principle"]),
    (["--kind", "heatmap", "--hue", "spec.order"], ["--hue is not used by --kind heatmap"]),
    (["--kind", "compliance", "--hue", "spec.order"], ["--hue is not used by --kind compliance"]),
    (["--kind", "timeseries", "--by", "spec.order"], ["--by is not used by --kind timeseries"]),
    (["--kind", "network", "--metric", "trust_mean"], ["--metric is not used by --kind network"]),
    (["--kind", "heatmap", "--run", "2"], ["--run is not used by --kind heatmap; it applies to --kind network"]),
    (["--metric", "welfare", "--step", "2"], ["--step is not used by the default kind (line or bar)"]),
    (["--kind", "bar", "--metric", "welfare", "--color-by", "payoff"],
     ["--color-by is not used by --kind bar"]),
])
def test_an_option_the_kind_ignores_is_refused(store: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               args: list[str], needles: list[str]) -> None:
    assert plot(store, tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("specbound: ") and err.count("\n") == 1
    for needle in needles:
        assert needle in err
    assert list(tmp_path.iterdir()) == []


def test_help_says_unused_options_are_refused() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    text = " ".join(parser._subparsers._group_actions[0].choices["plot"].format_help().split())  # type: ignore[union-attr]
    assert "does not use is refused" in text
    assert "for compliance, the principles to show" in text
