"""`specbound sweep | export | rerun`: parsing, exit codes, one-line errors, untouched stores."""

from __future__ import annotations

import hashlib
import socket
import sqlite3

import pytest

import sim.runs.batch
import sim.runs.sweep
from cli.sweep import main, parse_assignment, parse_value
from sim.runs.store import STORE_FILE
from tests.sweep_fakes import FakeScenario, FakeTask


@pytest.fixture
def fake_engine(monkeypatch):
    """Route the CLI to the stand-in scenario and task (the engine is tested elsewhere)."""
    monkeypatch.setattr(sim.runs.sweep, "load", lambda ref: FakeScenario())
    monkeypatch.setattr(sim.runs.sweep, "EngineTask", lambda **_: FakeTask(fail_x=99))
    monkeypatch.setattr(sim.runs.batch, "EngineTask", lambda **_: FakeTask(fail_x=99))


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("-2", -2), ("0.25", 0.25), ("1e3", 1000.0), ("true", True), ("false", False),
     ("root", "root"), ('"3"', "3"), ("honest-first", "honest-first"), ("1_000", 1000)],
)  # fmt: skip
def test_values_parse_like_toml_scalars(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("x=1,2", ("x", [1, 2])), ("specs.a.principles.b.level=root,user",
      ("specs.a.principles.b.level", ["root", "user"])), (" x = 0.5 ", ("x", [0.5]))],
)  # fmt: skip
def test_assignments(text, expected):
    assert parse_assignment("--grid", text) == expected


@pytest.mark.parametrize("text", ["x", "=1", "x=", "x= "])
def test_bad_assignment(text, capsys, fake_engine, tmp_path):
    assert main(["sweep", "fake", "--grid", text, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("specbound: --grid") and err.count("\n") == 1


def test_sweep_prints_table_and_store(tmp_path, capsys, fake_engine):
    out = tmp_path / "o"
    code = main(["sweep", "fake", "--grid", "x=1,2", "--zip", "alpha=0.5", "--runs", "2",
                 "--workers", "1", "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"store: {out / STORE_FILE}" in printed.out and "4 runs" in printed.out
    assert "welfare" in printed.out and "trust_mean" in printed.out
    with sqlite3.connect(out / STORE_FILE) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs WHERE status='done'").fetchone() == (4,)


def test_failed_runs_exit_1_with_summary(tmp_path, capsys, fake_engine):
    code = main(
        ["sweep", "fake", "--grid", "x=1,99", "--workers", "1", "--out", str(tmp_path / "o")]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "1 of 2 runs failed" in err and "ValueError: fake failure for x=99" in err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def digest(folder) -> tuple[str, list[str]]:
    """The store file's bytes and its logical content (a reader may leave empty -wal/-shm files)."""
    db = folder / STORE_FILE
    raw = hashlib.sha256(db.read_bytes()).hexdigest()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return raw, list(conn.iterdump())


BAD_INPUT = [
    (["--grid", "nope=1,2"], "unknown path 'nope'"),
    (["--grid", "x=1,two"], "x = 'two' must be int"),
    (["--grid", "x=1", "--grid", "x=2"], "given twice"),
    (["--runs", "0"], "argument --runs: 0 is out of range; allowed: 1.."),
    (["--runs", "3", "--dask", "tcp://127.0.0.1:{port}"], "no Dask scheduler reachable"),
    (["--dask", "tcp://127.0.0.1:1", "--workers", "2"], "drop --workers"),
    (["--workers", "0"], "argument --workers: 0 is out of range; allowed: 1.."),
]


def bad_sweep(args: list[str], out, capsys) -> str:
    args = [a.format(port=closed_port()) for a in args]
    if "--grid" not in args:
        args = ["--grid", "x=1,2", *args]
    assert main(["sweep", "fake", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_creates_nothing(tmp_path, capsys, fake_engine, args, message):
    assert message in bad_sweep(args, tmp_path / "new", capsys)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [*BAD_INPUT[:4], *BAD_INPUT[5:], (["--grid", "x=1,3"], "differs from this one")],
)
def test_bad_input_leaves_the_store_untouched(tmp_path, capsys, fake_engine, args, message):
    out = tmp_path / "o"
    assert main(["sweep", "fake", "--grid", "x=1,2", "--workers", "1", "--out", str(out)]) == 0
    before = digest(out)
    capsys.readouterr()
    assert message in bad_sweep(args, out, capsys)
    assert digest(out) == before


def test_output_folder_that_is_a_file(tmp_path, capsys, fake_engine):
    target = tmp_path / "file"
    target.write_text("keep me")
    assert main(["sweep", "fake", "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "keep me"


def test_older_schema_store_is_refused_untouched(tmp_path, capsys, fake_engine):
    out = tmp_path / "old"
    out.mkdir()
    with sqlite3.connect(out / STORE_FILE) as conn:
        conn.execute("CREATE TABLE runs(run_id INTEGER PRIMARY KEY)")
    before = digest(out)
    assert main(["sweep", "fake", "--out", str(out)]) == 2
    assert "schema version 0" in capsys.readouterr().err
    assert digest(out) == before


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_command(tmp_path, capsys, fake_engine, fmt):
    out = tmp_path / "o"
    assert main(["sweep", "fake", "--grid", "x=1,2", "--workers", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["export", str(out), "--format", fmt]) == 0
    names = [line.rsplit("/", 1)[-1] for line in capsys.readouterr().out.splitlines()]
    assert names == [f"runs.{fmt}", f"steps.{fmt}", f"events.{fmt}", f"event_counts.{fmt}"]
    assert (out / "export" / f"runs.{fmt}").stat().st_size > 0


def test_export_of_missing_store(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--format", "csv"]) == 2
    assert "no specbound store" in capsys.readouterr().err


def test_rerun_command(tmp_path, capsys, fake_engine):
    out = tmp_path / "o"
    assert main(["sweep", "fake", "--grid", "x=1,2", "--workers", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["rerun", str(out), "1", "--json"]) == 0
    assert '"match": true' in capsys.readouterr().out
    assert main(["rerun", str(out), "1"]) == 0
    assert ": match" in capsys.readouterr().out
    assert main(["rerun", str(out), "5"]) == 2


@pytest.mark.parametrize(
    ("grid", "message"),
    [("nope.x=1,2", "no such key 'nope'"), ("environment.T=5,x", "expected a number"),
     ("groups.defector.spec=empty,no-such-spec", "no-such-spec"),
     ("specs.honest-first.principles.protect_reserve.level=root,rooot", "unknown level 'rooot'"),
     ("specs.honest-first.principles.no_such_rule.level=root", "no_such_rule")],
)  # fmt: skip
def test_real_scenario_bad_grid_is_exit_2_before_any_run(tmp_path, capsys, grid, message):
    out = tmp_path / "o"
    assert main(["sweep", "ipd-classic", "--grid", grid, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_real_scenario_sweep_and_rerun(tmp_path, capsys):
    out = tmp_path / "o"
    args = ["sweep", "ipd-classic", "--grid", "environment.T=5,6", "--grid", "steps=3",
            "--runs", "2", "--workers", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "welfare" in printed and f"store: {out / STORE_FILE}" in printed
    assert main(["rerun", str(out), "2", "--json"]) == 0
    assert '"match": true' in capsys.readouterr().out


@pytest.mark.parametrize(("flag", "shown"), [("--progress", True), ("--no-progress", False)])
def test_progress_bar_on_stderr(tmp_path, capsys, fake_engine, flag, shown):
    args = ["sweep", "fake", "--grid", "x=1,99", "--runs", "2", "--workers", "1", flag]
    assert main([*args, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert ("4/4" in err and "failed=2" in err and "run/s" in err) is shown


def test_dead_worker_is_exit_1_one_line(tmp_path, capsys, fake_engine, monkeypatch):
    monkeypatch.setattr(sim.runs.sweep, "EngineTask", lambda **_: FakeTask(die_x=2))
    args = ["sweep", "fake", "--grid", "x=1,2", "--workers", "2", "--out", str(tmp_path / "o")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "worker process died" in err and "repeat the command to resume" in err
    assert err.strip().count("\n") == 0
