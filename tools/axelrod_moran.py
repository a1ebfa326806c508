"""Fixation frequencies of axelrod's MoranProcess with moran-ipd's strategies, written as test data.

axelrod is not a dependency of specbound: run this in a throwaway virtual
environment, and commit only the JSON it writes (``tests/data/axelrod_moran.json``,
read by ``tests/test_moran_axelrod.py``)::

    python3 -m venv .axvenv && .axvenv/bin/pip install axelrod==4.13.0
    .axvenv/bin/python tools/axelrod_moran.py --replicas 200 -o a.json &
    .axvenv/bin/python tools/axelrod_moran.py --replicas 200 --first 200 -o b.json
    .axvenv/bin/python tools/axelrod_moran.py --merge a.json b.json -o tests/data/axelrod_moran.json

The population is moran-ipd's: three each of tit for tat, grudger, cooperator
and defector (axelrod's default game, R, S, T, P = 3, 0, 5, 1, no noise). Each
generation every pair plays a fresh match of ``--turns`` turns; a player is
chosen to reproduce in proportion to its total score (axelrod sums each match's
score per turn, which selects alike) and its clone replaces a random player
(mode ``bd``), until one strategy holds everyone. Replica k uses ``seed = k``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import axelrod as axl

#: moran-ipd's group names and axelrod's strategies of the same rules.
STRATEGIES = {"tit_for_tat": axl.TitForTat, "grudger": axl.Grudger, "cooperator": axl.Cooperator,
              "defector": axl.Defector}
COUNT = 3


def fixations(replicas: int, turns: int, first: int = 0) -> dict[str, object]:
    """Run ``replicas`` seeded Moran processes (seeds ``first``...); count which strategy fixed in each."""
    names = {str(cls()): name for name, cls in STRATEGIES.items()}
    counts = dict.fromkeys(STRATEGIES, 0)
    generations = []
    for seed in range(first, first + replicas):
        players = [cls() for cls in STRATEGIES.values() for _ in range(COUNT)]
        mp = axl.MoranProcess(players, turns=turns, noise=0, mode="bd", seed=seed)
        populations = mp.play()
        counts[names[mp.winning_strategy_name]] += 1
        generations.append(len(populations) - 1)
    return {
        "source": f"axelrod {axl.__version__} MoranProcess",
        "mode": "bd",
        "turns": turns,
        "noise": 0.0,
        "game": {"R": 3, "S": 0, "T": 5, "P": 1},
        "population": dict.fromkeys(STRATEGIES, COUNT),
        "replicas": replicas,
        "seeds": [first, first + replicas - 1],
        "fixations": counts,
        "generations_sum": sum(generations),
        "generations_mean": statistics.fmean(generations),
        "generations_max": max(generations),
    }


def merge(parts: list[dict]) -> dict[str, object]:
    """One data set from parts run over consecutive seed ranges (two cores, two processes)."""
    parts = sorted(parts, key=lambda p: p["seeds"][0])
    for a, b in itertools.pairwise(parts):
        if a["seeds"][1] + 1 != b["seeds"][0] or a["turns"] != b["turns"]:
            raise SystemExit("parts must cover consecutive seeds with the same turns")
    out = dict(parts[0])
    out["replicas"] = sum(p["replicas"] for p in parts)
    out["seeds"] = [parts[0]["seeds"][0], parts[-1]["seeds"][1]]
    out["fixations"] = {k: sum(p["fixations"][k] for p in parts) for k in STRATEGIES}
    out["generations_sum"] = sum(p["generations_sum"] for p in parts)
    out["generations_mean"] = out["generations_sum"] / out["replicas"]
    out["generations_max"] = max(p["generations_max"] for p in parts)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument("--first", type=int, default=0, help="seed of the first replica")
    parser.add_argument("--merge", type=Path, nargs="*", default=[],
                        help="instead of running: merge these JSON parts (consecutive seed ranges)")
    parser.add_argument("-o", "--out", type=Path, default=None, help="JSON file (default: print)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data = merge([json.loads(p.read_text()) for p in args.merge]) if args.merge else \
        fixations(args.replicas, args.turns, args.first)
    text = json.dumps(data, indent=1) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
    print(f"{data['replicas']} replicas in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
