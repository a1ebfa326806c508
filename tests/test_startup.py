"""What each command imports: start-up is most of a short command's time.

openai (~1.5 s), matplotlib (~1.4 s) and numba (~0.8 s) are loaded only by the
commands that use them. Each case runs in a fresh interpreter, since this
process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("openai", "matplotlib", "numba")
PROBE = """
import contextlib, io, json, sys
import cli.main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        cli.main.main({argv!r})
    except SystemExit:
        pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded(argv: list[str], watched: tuple[str, ...] = HEAVY) -> list[str]:
    code = PROBE.format(argv=argv, heavy=watched)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("argv", "allowed"), [
    (["--help"], set()),
    (["spec", "check", "scenarios/specs/platform.toml"], set()),
    (["list", "scenarios"], set()),
    (["run", "trust-network", "--steps", "3", "--json"], set()),
    # Five villagers: too few agent-steps for the commons kernel to pay for numba's import.
    (["run", "commons", "--json"], set()),
    # 20 agents: too few questions for tooth-fairy's compiled stretch; its numpy stretch plays.
    (["run", "tooth-fairy", "--json"], set()),
])
def test_commands_import_only_what_they_use(argv: list[str], allowed: set[str]) -> None:
    assert set(_loaded(argv)) <= allowed, argv


def test_the_probe_sees_heavy_imports() -> None:
    # Guards the probe's premise: the plotting module does pull matplotlib in.
    code = "import sys, analysis.plots; print(int('matplotlib' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "1"


#: Modules of other commands: a single run has no use for them.
OTHER_COMMANDS = ("cli.spec", "cli.sweep", "cli.evals", "cli.analysis", "cli.viz",
                  "analysis.aggregate", "agents.lint", "concurrent.futures.process")


def test_a_run_wires_only_its_own_command() -> None:
    assert _loaded(["run", "trust-network", "--steps", "3", "--json"], OTHER_COMMANDS) == []


def test_the_table_of_contributed_commands_is_what_the_modules_register() -> None:
    import argparse
    import importlib

    from cli.main import CONTRIBUTED

    for module, names in CONTRIBUTED.items():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        assert tuple(sub.choices) == names, module


@pytest.mark.parametrize("argv", [["sweep", "--help"], ["spec", "explain", "--help"], ["--help"]])
def test_help_of_a_lazily_wired_command_still_works(argv: list[str], capsys) -> None:
    from cli.main import main

    assert main(argv) == 0  # --help: exit 0 returned, not raised
    assert "usage: specbound" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "prestarts"), [
    (["sweep", "ipd-classic", "--runs", "4"], "pool"),
    (["sweep", "ipd-classic", "--workers", "1"], None),
    (["sweep", "ipd-classic", "--workers=1"], None),
    (["sweep", "ipd-classic", "--work", "1"], None),  # argparse takes an unambiguous prefix
    (["sweep", "ipd-classic", "--workers", "2"], "pool"),
    (["sweep", "ipd-classic", "--dask", "local"], "dask"),  # its workers fork from the server
    (["sweep", "ipd-classic", "--dask=local", "--workers", "1"], "dask"),
    (["sweep", "ipd-classic", "--dask=tcp://127.0.0.1:1"], None),  # a remote cluster has its own workers
    (["sweep", "--help"], None),
    (["run", "ipd-classic", "--runs", "4"], "pool"),
    (["run", "ipd-classic"], None),
    (["demo"], "pool"),
    (["list"], None),
    (["--workers", "2", "sweep"], None),  # not a command line the parser accepts
])
def test_only_commands_that_may_sweep_start_the_pool_early(monkeypatch, argv: list[str], prestarts) -> None:
    from sim.runs import pool

    monkeypatch.setattr(pool.os, "cpu_count", lambda: 2)
    assert pool.workers_for_argv(argv) == prestarts


def test_the_server_starts_with_thread_limits_the_driver_keeps_its_own(monkeypatch) -> None:
    from multiprocessing import forkserver

    from sim.runs import pool

    seen: dict[str, str | None] = {}
    monkeypatch.setattr(forkserver, "ensure_running",
                        lambda: seen.update({k: pool.os.environ.get(k) for k in pool.THREAD_LIMITS}))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")  # a user's own choice wins
    pool.prestart()
    assert seen == {**pool.THREAD_LIMITS, "NUMBA_NUM_THREADS": "3"}
    assert "OMP_NUM_THREADS" not in pool.os.environ and pool.os.environ["NUMBA_NUM_THREADS"] == "3"


def test_a_one_core_machine_starts_no_pool_early(monkeypatch) -> None:
    from sim.runs import pool

    monkeypatch.setattr(pool.os, "cpu_count", lambda: 1)  # the server would take the driver's only core
    assert pool.workers_for_argv(["sweep", "ipd-classic", "--runs", "40"]) is None


def test_the_quick_exit_keeps_exit_handlers_output_and_code() -> None:
    # exit_now skips only the interpreter's teardown: handlers run, buffered output
    # is flushed (stdout is a pipe here, so block-buffered), the code is kept.
    code = ("import atexit, sys, cli.main\n"
            "atexit.register(lambda: print('handler ran'))\n"
            "sys.stdout.write('x' * 100_000)\n"
            "cli.main.exit_now(3)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert done.stdout == "x" * 100_000 + "handler ran\n"


def test_the_quick_exit_waits_for_a_live_thread() -> None:
    # A non-daemon thread still running takes the ordinary exit, which waits for it.
    code = ("import threading, time, cli.main\n"
            "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()\n"
            "cli.main.exit_now(0)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "thread done\n")


def test_the_command_exits_with_its_code_and_full_output() -> None:
    ok = subprocess.run([sys.executable, "-m", "cli", "run", "ipd-classic", "--steps", "3", "--json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)["scenario"] == "ipd-classic"
    bad = subprocess.run([sys.executable, "-m", "cli", "run", "no-such-scenario"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
