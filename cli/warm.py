"""``specbound warm``: compile every kernel now, so that no first run waits for the compiler."""

from __future__ import annotations

import argparse
from typing import Any

from cli.base import int_in
from sim.limits import MAX_WORKERS


def register(sub: Any) -> None:
    p = sub.add_parser("warm", help="compile every compiled kernel now (once per version of their sources), "
                       "so that no first run waits for the compiler")
    p.add_argument("--workers", type=int_in(1, MAX_WORKERS), help="processes (default: one per core)")
    p.add_argument("--force", action="store_true", help="compile again even when the cache is marked warm")
    p.set_defaults(func=_warm)


def _warm(args: argparse.Namespace) -> int:
    from sim.warm import warm

    done = warm(args.workers, args.force)
    for old in done.pruned:
        print(f"removed {old.name}: the cache of other kernel sources, unused for an hour")
    if done.status == "no numba":
        print("numba is not installed: runs step without compiled kernels; nothing to compile")
    elif done.status == "warm":
        print(f"kernels already compiled in {done.path}")
    else:
        print(f"compiled the kernels of {len(done.ran)} runs in {done.seconds:.0f} s into {done.path}")
    return 0
