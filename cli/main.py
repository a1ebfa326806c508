"""The ``specbound`` command line (``python -m sim`` is the same).

Sub-commands are contributed by the modules that own them (``register``
functions); this module wires them, and holds ``list``, ``run`` and ``demo``.
Bad input is one line on stderr and exit 2; a failure while running, exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from agents.errors import SpecboundError
from cli.base import SEED_MAX, Parser, dispatch_argv, int_in, parse_sets
from cli.ledger_option import add_ledger_option
from sim.limits import MAX_RUNS, MAX_STEPS, MAX_WORKERS

# --- list ---------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from cli.listing import list_rows

    rows = list_rows(getattr(args, "loaded_plugins", None) or [])
    wanted = [args.what] if args.what else list(rows)
    if args.json:
        print(json.dumps({k: [{"id": a, "description": b} for a, b in rows[k]] for k in wanted}, indent=1))
        return 0
    for k in wanted:
        print(f"{k}:")
        width = max((len(a) for a, _ in rows[k]), default=0)
        for a, b in rows[k]:
            print(f"  {a:<{width}}  {b}".rstrip())
    return 0


# --- run ----------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from sim.runs.run import result_of, run_model
    from sim.scenario import check_steps, load_scenario

    overrides = parse_sets(args.set)
    if not 0 <= args.seed < 2**63:
        raise SpecboundError(f"--seed {args.seed}: must be an integer in 0..2^63-1")
    if args.steps is not None:
        overrides["steps"] = check_steps(args.steps, "--steps")
    if args.runs is not None:
        # One point of a sweep: checked as a single run would be (a sweep point may patch a
        # spec that only other points use; a one-point sweep has no other point).
        load_scenario(args.scenario, overrides)
        return _run_many(args, overrides)
    scenario = load_scenario(args.scenario, overrides)  # first: bad input leaves no folder behind
    made = bool(args.out) and not Path(args.out).exists()
    out = _prepare_out(args.out) if args.out else None
    if sys.stderr.isatty():
        from agents import kernel_loader

        kernel_loader.announce_compiles(_say_cold)
    try:
        model = run_model(scenario, seed=args.seed, progress=True)
    except BaseException:
        if made and out is not None and not any(out.iterdir()):  # a failed run leaves no empty folder
            out.rmdir()
        raise
    result = result_of(model, overrides)
    payload = result.to_json()
    text = json.dumps(payload, indent=1, sort_keys=False, default=str)
    if out is not None:
        _write_run(out, result, text, args.ledger or "full")
    if args.json:
        print(text)
    else:
        _print_summary(payload, out, args.ledger or "full")
    return 0


def _say_cold(module: str) -> None:
    print(f"specbound: compiling kernels ({module} first) for this machine, once per version of them; "
          "`specbound warm` compiles every kernel ahead", file=sys.stderr, flush=True)


def _run_many(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    from cli.sweep import report_failures
    from sim.runs.sweep import summary, sweep

    if args.runs < 1:
        raise SpecboundError(f"--runs must be at least 1, got {args.runs}")
    frame = sweep(args.scenario, grid={k: [v] for k, v in overrides.items()}, runs=args.runs,
                  seed=args.seed, out=args.out, workers=args.workers, ledger=args.ledger)
    if args.json:
        print(frame.to_json(orient="records"))
    else:
        print(summary(frame).to_string())
        print(f"store: {frame.attrs['store']}")
    return report_failures(frame)


def _prepare_out(out: str) -> Path:
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise SpecboundError(f"--out {out}: exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SpecboundError(f"--out {out}: cannot create ({e.strerror})") from None
    if not os.access(p, os.W_OK):
        raise SpecboundError(f"--out {out}: not writable")
    return p


def _write_run(out: Path, result: Any, text: str, ledger: str) -> None:
    # Written to temporary names, then renamed: a failed run leaves nothing half-written.
    files = {"result.json": text, "steps.csv": result.steps.to_csv()}
    if ledger == "full":
        files["events.csv"] = result.events.to_csv(index=False)
    elif ledger == "counts":
        from sim.runs.ledger import event_counts

        files["event_counts.csv"] = event_counts(result.events).to_csv(index=False)
    for name, body in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(body)
    for name in files:
        (out / f".{name}.tmp").replace(out / name)


def _print_summary(payload: dict[str, Any], out: Path | None, ledger: str = "full") -> None:
    m = payload["metrics"]
    print(f"scenario {payload['scenario']}  seed {payload['seed']}  agents {len(payload['agents'])}")
    from scenarios.metric_registry import METRICS

    # Registered metrics in registration order (engine first), then groups' payoffs.
    shown = sorted((d for d in METRICS.values() if not d.family and d.aggregate != "series"),
                   key=lambda d: bool(d.environments))  # stable: the engine's first, in their order
    for k in (d.name for d in shown):
        if k in m and m[k] is not None and k not in ("payoff_focal", "payoff_background",
                                                     "events_truncated"):
            print(f"  {k:<22} {m[k]:.4g}")
    groups = {a["group"] for a in payload["agents"]}
    for g in sorted(groups):
        v = m.get(f"payoff.{g}")
        if v is not None:
            print(f"  payoff.{g:<14} {v:.4g}")
    print(f"  conflict events        {len(payload['conflicts'])}")
    if out is not None:
        events = {"full": ", events.csv", "counts": ", event_counts.csv", "none": ""}[ledger]
        print(f"results: {out}/result.json, steps.csv{events}")


# --- demo ---------------------------------------------------------------------------------


#: The twin negotiation scenarios' two orderings (confidential-negotiator is
#: confidential-first with covert goals allowed), swept against lie detection.
DEMO_ORDERINGS = ("honest-first", "confidential-negotiator")
DEMO_DETECTION = (0.0, 0.2, 0.5, 0.8)


def demo_sweep(scenario: str, runs: int, out: Path, workers: int | None) -> Any:
    """The demo's sweep (its frame): also what ``python -m bench --only store-size`` stores."""
    from sim.runs.sweep import sweep

    orderings = list(DEMO_ORDERINGS)
    return sweep(scenario, grid={"environment.detect_prob": list(DEMO_DETECTION)},
                 zip={"groups.buyers.spec": orderings, "groups.sellers.spec": orderings},
                 runs=runs, seed=0, out=out, workers=workers, progress=None)


def _demo(args: argparse.Namespace) -> int:
    """The main job end to end: a spec-ordering sweep, then the report and main plots."""

    from sim.runs.sweep import summary

    out = Path(args.out)
    print(f"specbound demo: sweeping {args.scenario} over spec orderings {list(DEMO_ORDERINGS)} x lie"
          f" detection, {args.runs} paired runs each, into {out}/ ...", flush=True)
    frame = demo_sweep(args.scenario, args.runs, out, args.workers)
    print(summary(frame).to_string())
    failed = int((frame["status"] == "failed").sum())
    outputs = [frame.attrs["store"]]
    from cli.demo import demo_outputs

    outputs += [str(p) for p in demo_outputs(out)]
    print("results:")
    for p in outputs:
        print(f"  {p}")
    return 1 if failed else 0


# --- wiring -------------------------------------------------------------------------------


#: Sub-commands other modules contribute: module -> the commands its ``register`` adds.
#: A command line names one command, so only its module is imported: the others cost
#: start-up (analysis, evals, lint...) that ``run`` never uses. tests/test_startup.py
#: pins this table against what the modules register.
CONTRIBUTED: dict[str, tuple[str, ...]] = {
    "cli.spec": ("spec",),
    "cli.sweep": ("sweep", "export", "rerun"),
    "cli.conformance": ("check",),
    "cli.evals": ("eval",),
    "cli.analysis": ("plot", "report"),
    "cli.viz": ("viz",),
    "cli.warm": ("warm",),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; given the ``command`` about to run, only the module owning it is wired.

    Without a command (``--help``, a typo) every module is wired, so help and
    errors list every command.
    """
    parser = Parser(
        prog="specbound",
        description="Simulate agents bound by specs and a chain of command; measure trust, welfare and conflicts.",
        epilog="Every command takes --plugin MODULE (repeatable): a module, .py file or package folder "
               "that registers environments, policies, checks, metrics or spec folders.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="scenarios, specs, environments, policies, checks, metrics "
                       "(with --plugin M: what M registers)")
    p.add_argument("what", nargs="?", choices=["scenarios", "specs", "environments", "policies",
                                               "checks", "metrics"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)

    p = sub.add_parser("run", help="run a scenario once (or --runs N times)")
    p.add_argument("scenario", metavar="SCENARIO", help="shipped scenario id or path to a .toml")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=0)
    p.add_argument("--steps", type=int_in(1, MAX_STEPS), help="run length (1..1,000,000; default: the scenario's)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE", help="dotted-path override (repeatable)")
    p.add_argument("--out", metavar="DIR", help="write result.json, steps.csv and events.csv (see --ledger) here "
                   "(with --runs: the sweep store; default out/sweep-<scenario>)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--runs", type=int_in(1, MAX_RUNS), help="run N seeds as a one-point sweep into a store")
    p.add_argument("--workers", type=int_in(1, MAX_WORKERS), help="worker processes for --runs")
    add_ledger_option(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("demo", help="run the demo sweep and write its report")
    p.add_argument("--scenario", default="negotiation-honest-first",
                   help="a negotiation scenario (its buyers' and sellers' spec orderings are swept)")
    p.add_argument("--runs", type=int_in(1, MAX_RUNS), default=8, help="paired runs per grid point")
    p.add_argument("--workers", type=int_in(1, MAX_WORKERS), help="worker processes (default: one per core)")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.set_defaults(func=_demo)

    if command in sub.choices:
        return parser
    import importlib

    owner = next((m for m, names in CONTRIBUTED.items() if command in names), None)
    for module in [owner] if owner else CONTRIBUTED:
        registered = importlib.import_module(module).register(sub)
        if module == "cli.spec":
            from cli import explain as cli_explain

            cli_explain.register(registered)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    rest = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in rest[:1] if not a.startswith("-")), None)
    if command in ("sweep", "demo", "run"):
        from sim.runs.pool import prestart_for_argv

        # Before the parser imports anything: the workers' server loads the engine
        # on the other core while this process loads its own modules and the scenario.
        prestart_for_argv(rest)
    return dispatch_argv(build_parser(command), argv)


def entry() -> None:
    """The ``specbound`` console script (and ``python -m cli``/``sim``): :func:`main`, then a quick exit."""
    from sim.runs import heap

    heap.OWNED = True  # the command's own process, never a library caller's (``sim.runs.heap``)
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Exit with ``code`` without tearing the interpreter down, when that is safe.

    Tearing down pandas, scipy, mesa and the engine (clearing ~1,400 modules
    and freeing what they hold) costs ~0.3 s of CPU, a fifth of a short
    command, and nothing of it is observable. The exit handlers still run
    (worker pools shut down, the store and logs flushed), then stdout and
    stderr are flushed. A non-daemon thread still alive, or output that cannot
    be flushed (a closed pipe), takes the ordinary exit, whose messages and
    waits stay as Python has them.

    A sweep stopped by a signal (``sim.runs.hygiene``) has closed its store and
    written its line by now, and may have left a thread it could not end: that
    thread is not waited for, and the exit handlers get
    ``hygiene.EXIT_GRACE`` seconds before the process leaves without them.
    """
    import atexit
    import sys
    import threading

    hygiene = sys.modules.get("sim.runs.hygiene")  # imported only by a command that sweeps
    if hygiene is not None and hygiene.is_stopping():
        _flush()
        hygiene.leave_within(code)
    atexit._run_exitfuncs()
    if any(t.is_alive() and not t.daemon and not (hygiene is not None and hygiene.given_up(t))
           for t in threading.enumerate() if t is not threading.main_thread()):
        raise SystemExit(code)
    if not _flush():
        raise SystemExit(code)
    os._exit(code)


def _flush() -> bool:
    """Flush stdout and stderr; whether they could be (not a closed pipe, say)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return False
    return True


if __name__ == "__main__":
    entry()
