"""Print AgentDojo's three numbers for the injection scenario, per spec, as a Markdown table.

Utility without attack is ``utility.<spec>`` in runs with ``attack_prob = 0``;
utility under attack and the targeted attack success rate are ``utility.<spec>``
and ``attack_success.<spec>`` in runs with the scenario's attacks. Both arms use
the same seeds (common random numbers). Each cell is the mean over runs with a
95% interval (mean +- 1.96 standard errors).

    .venv/bin/python tools/agentdojo_table.py [RUNS] [STEPS]
"""

from __future__ import annotations

import sys

import numpy as np

import sim

SPECS = ("platform", "gullible")


def cell(values: list[float]) -> str:
    x = np.asarray(values, dtype=float)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
    return f"{x.mean():.3f} ± {half:.3f}"


def table(runs: int = 20, steps: int = 40) -> str:
    arms = {}
    for name, attack in (("clean", 0.0), ("attacked", None)):
        extra = {} if attack is None else {"environment.attack_prob": attack}
        arms[name] = [sim.run("injection", seed=s, set={"steps": steps, **extra}).metrics
                      for s in range(1, runs + 1)]
    lines = ["| spec | utility without attack | utility under attack | targeted attack success |",
             "|---|---|---|---|"]
    for spec in SPECS:
        lines.append(f"| {spec} | {cell([m[f'utility.{spec}'] for m in arms['clean']])} "
                     f"| {cell([m[f'utility.{spec}'] for m in arms['attacked']])} "
                     f"| {cell([m[f'attack_success.{spec}'] for m in arms['attacked']])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(table(*args))
