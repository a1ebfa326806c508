"""Draw docs/spatial-pd.png: the cooperators' share over time in spatial-pd for three temptations.

Runs the shipped scenario (every decision through the chain of command,
imitate-the-best every step) on a 100 x 100 torus from 10% defectors, for
b = 1.6 (cooperators dominate), 1.9 (chaotic coexistence) and 2.1 (collapse),
three seeds each, and marks Nowak and May's 0.318.

    .venv/bin/python tools/spatial_pd_figure.py [OUT.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import sim
from analysis.plots import save_figure

OUT = Path(__file__).resolve().parent.parent / "docs" / "spatial-pd.png"
TEMPTATIONS = ((1.6, "tab:blue"), (1.9, "tab:purple"), (2.1, "tab:red"))
SIZE = {"groups.cooperators.count": 9000, "groups.defectors.count": 1000}


def main(out: Path = OUT) -> Path:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for b, colour in TEMPTATIONS:
        for seed in (1, 2, 3):
            r = sim.run("spatial-pd", seed=seed, steps=150, set={**SIZE, "environment.T": b})
            ax.plot(r.steps.index, r.steps["share.cooperator"], color=colour, lw=1, alpha=0.8,
                    label=f"b = {b}" if seed == 1 else None)
    ax.axhline(0.318, color="grey", ls="--", lw=1, label="Nowak & May: 0.318")
    ax.set(xlabel="generation (step)", ylabel="share of cooperators", ylim=(0, 1),
           title="spatial-pd: 100 x 100 torus, 10% defectors at the start, 3 seeds each")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
