"""What a cold numba cache costs a user: CPU seconds spent compiling, per scenario and kernel.

Each scenario is run once at 10^3 agents (the ``every-scenario`` bench's overrides) in a fresh
process whose numba cache starts empty, so every kernel it reaches is compiled; numba's
``numba:compile`` events give each jitted function's own compile time (callees' time is
theirs, not the caller's).

    .venv/bin/python tools/compile_cost.py trust-game commons     # a few scenarios
    .venv/bin/python tools/compile_cost.py                        # every shipped one
    .venv/bin/python tools/compile_cost.py --top 25 trust-game    # more functions listed

CPU seconds, so a loaded machine inflates them less than wall time; still note the load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Runs in the child: one scenario, a cold cache, exclusive compile seconds per function.
CHILD = """
import json, sys, time
from collections import defaultdict
from numba.core import event

own, calls, stack = defaultdict(float), defaultdict(int), []

class Timer(event.Listener):
    def on_start(self, ev):
        stack.append([time.process_time(), 0.0])

    def on_end(self, ev):
        start, inner = stack.pop()
        spent = time.process_time() - start
        fn = ev.data["dispatcher"].py_func
        name = fn.__module__ + "." + fn.__qualname__
        own[name] += spent - inner
        calls[name] += 1
        if stack:
            stack[-1][1] += spent

event.register("numba:compile", Timer())
from bench.every_scenario import PLANS, overrides
from sim.model import SpecModel
from sim.scenario import load_scenario

ref, n = sys.argv[1], int(sys.argv[2])
plan = PLANS[ref]
steps = plan.steps[0 if n <= 1000 else 1]
start = time.process_time()
SpecModel(load_scenario(ref, overrides(ref, n, steps, plan.complete and n > 1000)), seed=0).run()
print(json.dumps({"run": time.process_time() - start, "own": own, "calls": calls}))
"""


def cost(ref: str, n: int) -> dict:
    """Compile seconds of one scenario's first run at ``n`` agents, in a child with a cold cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        done = subprocess.run([sys.executable, "-c", CHILD, ref, str(n)], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"compile_cost: {ref} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help="scenario ids (default: every one the bench plans)")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--top", type=int, default=8, help="functions listed per scenario")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.every_scenario import PLANS

    refs = args.scenarios or sorted(PLANS)
    unknown = sorted(set(refs) - set(PLANS))
    if unknown:
        parser.exit(2, f"compile_cost: unknown scenario {unknown[0]!r}; known: {', '.join(sorted(PLANS))}\n")
    print(f"load average {os.getloadavg()[0]:.1f}")
    for ref in refs:
        out = cost(ref, args.agents)
        own = out["own"]
        print(f"{ref}: compile {sum(own.values()):.1f} s CPU, first run {out['run']:.1f} s CPU", flush=True)
        for name, secs in sorted(own.items(), key=lambda kv: -kv[1])[:args.top]:
            print(f"  {secs:6.2f}  x{out['calls'][name]}  {name}")


if __name__ == "__main__":
    main()
