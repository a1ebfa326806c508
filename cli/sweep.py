"""The ``sweep``, ``export`` and ``rerun`` sub-commands.

``sim/cli.py`` calls :func:`register` to add them to its parser; each parsed
namespace carries ``func`` (``args.func(args) -> exit code``). :func:`main`
runs these commands alone (tests, and before the main CLI wires them in).

Exit codes: 0 done; 1 some run failed (the sweep still finished and stored
every run); 2 bad input, as one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from agents.errors import SpecboundError
from cli.base import SEED_MAX, int_in, parse_value, run_commands
from cli.ledger_option import add_ledger_option
from sim.limits import MAX_RUNS, MAX_WORKERS
from sim.runs.batch import ExecutorError
from sim.runs.sweep import SweepInterrupted


def parse_assignment(option: str, text: str) -> tuple[str, list[Any]]:
    """``PATH=V1,V2,...`` -> (path, [values]) with TOML-parsed values."""
    path, sep, values = text.partition("=")
    path = path.strip()
    if not sep or not path or not values.strip():
        raise SpecboundError(f"{option} {text!r}: expected PATH=V1,V2,... (e.g. steps=10,20)")
    return path, [parse_value(v.strip(), f"{option} {path}") for v in values.split(",")]


def _assignments(option: str, items: Sequence[str] | None) -> dict[str, list[Any]] | None:
    if not items:
        return None
    out: dict[str, list[Any]] = {}
    for item in items:
        path, values = parse_assignment(option, item)
        if path in out:
            raise SpecboundError(f"{option} {path}: given twice; list all values in one {option}")
        out[path] = values
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sweep``, ``export`` and ``rerun`` to a sub-command parser set."""
    p = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep into a resumable SQLite store",
        description="Run every grid point `runs` times with paired seeds; results stream to DIR/store.sqlite.",
    )
    p.add_argument("scenario", help="shipped scenario id or path to a scenario file")
    p.add_argument(
        "--grid", action="append", metavar="PATH=V1,V2", help="crossed with other --grid"
    )
    p.add_argument("--zip", action="append", metavar="PATH=V1,V2", help="varied together")
    p.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="a fixed override for every run (a grid path with one value)")
    p.add_argument("--runs", type=int_in(1, MAX_RUNS), help="runs per grid point (default: [sweep] table, else 1)")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), help="sweep seed (default: [sweep] table, else 0)")
    p.add_argument("--out", help="output folder (default out/sweep-<scenario id>)")
    p.add_argument(
        "--workers",
        type=int_in(1, MAX_WORKERS),
        help="worker processes, or workers of --dask local (default: one per core; 1 = serial)",
    )
    p.add_argument("--dask", metavar="local|tcp://HOST:PORT", help="run on a Dask cluster")
    p.add_argument("--resume", action="store_true", help="continue the sweep stored in --out")
    p.add_argument("--wait", action="store_true",
                   help="if another sweep is writing into --out, wait for it instead of refusing")
    p.add_argument("--retry-failed", action="store_true", help="also rerun runs stored as failed")
    p.add_argument(
        "--allow-grid-change",
        action="store_true",
        help="add a different sweep to an existing store",
    )
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    add_ledger_option(p)
    p.set_defaults(func=cmd_sweep)

    e = subparsers.add_parser("export", help="export a store's runs, steps and events")
    e.add_argument("dir", help="sweep output folder")
    e.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    e.add_argument("-o", "--output", help="folder for runs/steps/events files (default DIR/export)")
    e.set_defaults(func=cmd_export)

    r = subparsers.add_parser("rerun", help="rerun one stored run and compare its metrics")
    r.add_argument("dir", help="sweep output folder")
    r.add_argument("run_id", type=int_in(0, SEED_MAX))
    r.add_argument("--json", action="store_true", help="print the comparison as JSON")
    r.set_defaults(func=cmd_rerun)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run the sweep, print a per-point table and where the store is."""
    from sim.runs.sweep import summary

    try:
        frame = _sweep(args)
    except SweepInterrupted as stop:
        print(f"specbound: {stop}", file=sys.stderr)
        return 128 + stop.signum  # 130 for SIGINT, 143 for SIGTERM
    except KeyboardInterrupt as stop:  # before any run started
        signum = getattr(stop, "signum", signal.SIGINT)
        print(f"specbound: interrupted ({signal.Signals(signum).name}) before any run was stored; "
              "repeat the command to start again", file=sys.stderr)
        return 128 + signum
    except ExecutorError as err:
        print(
            f"specbound: {err}; finished runs are stored, repeat the command to resume",
            file=sys.stderr,
        )
        return 1
    with pd.option_context("display.width", 120, "display.max_columns", 12):
        print(summary(frame).to_string(float_format=lambda x: f"{x:.4g}"))
    print(f"store: {frame.attrs['store']} (sweep {frame.attrs['sweep_id']}, {len(frame)} runs)")
    return report_failures(frame)


def report_failures(frame: pd.DataFrame) -> int:
    """One line on stderr when runs failed (how many, the first error); the exit code: 1 if any."""
    failed = frame[frame["status"] == "failed"]
    if failed.empty:
        return 0
    first = failed.iloc[0]
    lines = str(first["error"]).strip().splitlines() or ["(no error recorded)"]
    print(
        f"specbound: {len(failed)} of {len(frame)} runs failed (first: run {first['run_id']}: "
        f"{lines[-1]}); tracebacks are in the store's runs.error; --retry-failed reruns them",
        file=sys.stderr,
    )
    return 1


def _sweep(args: argparse.Namespace) -> pd.DataFrame:
    from sim.runs.sweep import sweep

    if args.dask and args.dask != "local" and args.workers:
        raise SpecboundError(
            "--workers with --dask tcp://...: the cluster decides its workers; drop --workers"
        )
    grid = _assignments("--grid", args.grid)
    for path, values in (_assignments("--set", args.set) or {}).items():
        if len(values) != 1:
            raise SpecboundError(f"--set {path}: one value fixes a path; use --grid to vary it")
        if grid and path in grid:
            raise SpecboundError(f"--set {path}: also given with --grid; give it once")
        grid = {**(grid or {}), path: values}
    zipped = _assignments("--zip", args.zip)
    return sweep(
        args.scenario,
        grid=grid,
        zip=zipped,
        runs=args.runs,
        seed=args.seed,
        out=args.out,
        workers=args.workers,
        dask=args.dask,
        resume=args.resume,
        allow_grid_change=args.allow_grid_change,
        progress=args.progress,
        retry_failed=args.retry_failed,
        wait=args.wait,
        ledger=args.ledger,
    )


def cmd_export(args: argparse.Namespace) -> int:
    """Export runs, steps and events to Parquet or CSV files."""
    from sim.runs.export import export

    paths = export(args.dir, args.format, args.output)
    for path in paths:
        print(path)
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    """Rerun one run; exit 0 if the metrics match the stored ones, 1 if not."""
    from sim.runs.sweep import rerun

    report = rerun(args.dir, args.run_id)
    if args.json:
        print(json.dumps(report, sort_keys=True, default=str))
    else:
        verdict = "match" if report["match"] else "MISMATCH"
        print(
            f"run {report['run_id']} (seed {report['seed']}, params {report['params']}): {verdict}"
        )
        for metric, (old, new) in report["differences"].items():
            print(f"  {metric}: stored {old} rerun {new}")
        if report["error"]:
            print(f"  rerun raised {report['error']}")
        if report["stored_code_version"] != report["code_version"]:
            print(
                f"  stored with {report['stored_code_version']}, rerun with {report['code_version']}"
            )
    return 0 if report["match"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run one of these sub-commands; bad input is one line on stderr and exit 2."""
    return run_commands(register, argv)


if __name__ == "__main__":
    raise SystemExit(main())
