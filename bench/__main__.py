"""``python -m bench``: run every benchmark, write bench/results.json, print the table.

Benchmarks run in the order of issue 8. One that cannot run here (a part of
specbound or a peer not available yet) is skipped with its reason; one whose
two sides disagree stops the run with exit 1, because a time for a wrong
answer must never be reported. Exit 1 also when a target is missed, so
``make bench`` fails loudly. ``python -m bench --only NAME`` (or naming it)
runs one benchmark; such a partial run prints its rows and writes a results
file only with ``-o FILE``, so the full table in bench/results.json stays whole.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import RESULTS_PATH, Mismatch, Result, Unavailable, format_table, write_results


def _benchmarks(args: argparse.Namespace) -> dict[str, Callable[[], list[Result]]]:
    """Benchmark id -> runner, imported lazily so a missing peer skips only its own."""

    def ipd() -> list[Result]:
        from bench.ipd_tournament import SIZES, bench_ipd

        return bench_ipd(args.repeat, SIZES[:1] if args.quick else SIZES)

    def network() -> list[Result]:
        from bench.network_game import bench_network

        return bench_network(n=1_000 if args.quick else 10_000, repeat=args.repeat)

    def scaling() -> list[Result]:
        from bench.scaling import SIZES, bench_scaling

        return bench_scaling(SIZES[:2] if args.quick else SIZES, repeat=args.repeat)

    def sweep() -> list[Result]:
        from bench.sweep_scaling import bench_sweep

        return bench_sweep()

    def memory() -> list[Result]:
        from bench.sweep_memory import RUNS, bench_memory

        return bench_memory(1_000 if args.quick else RUNS)

    def store_size() -> list[Result]:
        from bench.store_size import bench_store_size

        return bench_store_size()

    def startup() -> list[Result]:
        from bench.startup import bench_startup

        return bench_startup()

    def sweep_cli() -> list[Result]:
        from bench.startup import bench_sweep_cli

        return bench_sweep_cli(repeat=1)

    def dask_cli() -> list[Result]:
        from bench.startup import bench_dask_cli

        return bench_dask_cli(repeat=1)

    def llm() -> list[Result]:
        from bench.llm_step import bench_llm, bench_llm_many

        return bench_llm() + bench_llm_many()

    def spatial() -> list[Result]:
        from bench.spatial_pd import SIZES, bench_spatial

        return bench_spatial(SIZES[:1] if args.quick else SIZES, repeat=args.repeat)

    def learners() -> list[Result]:
        from bench.learners import bench_learners

        return bench_learners(n=1_000 if args.quick else 10_000, repeat=args.repeat)

    def learning_memory() -> list[Result]:
        from bench.learners import bench_memory

        return bench_memory()

    def every_scenario() -> list[Result]:
        from bench.every_scenario import SIZES, bench_every

        return bench_every(SIZES[:1] if args.quick else SIZES)

    return {
        "ipd-tournament": ipd,
        "network-game": network,
        "scaling": scaling,
        "sweep-scaling": sweep,
        "sweep-memory": memory,
        "llm-step": llm,
        "store-size": store_size,
        "startup": startup,
        "sweep-cli": sweep_cli,
        "sweep-dask-cli": dask_cli,
        "spatial-pd": spatial,
        "learners": learners,
        "learning-memory": learning_memory,
        "every-scenario": every_scenario,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this benchmark (repeatable; same as naming it)")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats per side (median)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help=f"results file (default {RESULTS_PATH.name} when every benchmark runs; "
                             "a partial run writes one only when asked)")
    args = parser.parse_args(argv)
    table = _benchmarks(args)
    names = [*args.names, *args.only]
    unknown = [n for n in names if n not in table]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(table)}")
    results: list[Result] = []
    skipped: list[str] = []
    began = time.perf_counter()
    for name in dict.fromkeys(names) or table:
        # What one benchmark left behind (100,000 agents from `scaling`) must not slow the
        # next one's garbage collections; each starts from a collected heap.
        gc.collect()
        start = time.perf_counter()
        try:
            rows = table[name]()
        except Unavailable as exc:
            skipped.append(name)
            print(f"{name}: skipped: {exc}", flush=True)
            continue
        except Mismatch as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 1
        results.extend(rows)
        # Each row as soon as it is measured: a 10-minute run should not be silent.
        for row in rows:
            print(format_table([row]).splitlines()[-1], flush=True)
        print(f"{name}: done in {time.perf_counter() - start:.1f}s", flush=True)
    # A partial run must not replace the full table that the README reports.
    out = args.out
    if out is None and not names:
        out = RESULTS_PATH
    if out is not None:
        write_results(results, out)
    if out == RESULTS_PATH:  # a full run joins the range over the last runs, and the README shows it
        from bench.table import main as write_table
        from bench.table import record_run

        record_run(results, seconds=time.perf_counter() - began)
        write_table(["--write"])
    print(format_table(results))
    done = f"wrote {out}" if out is not None else "results not written (a partial run; -o FILE writes them)"
    print(done + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
