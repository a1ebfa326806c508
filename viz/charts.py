"""The live page's time series: one figure, a panel per question.

One figure with five panels renders as one image per step instead of five,
which is most of what a step costs the page at 1,000 agents. Panels pick
their columns when drawn, so principles a patch adds and conflict level
pairs that first occur mid-run appear without a reload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from viz.live import BY_LEVEL

COMPLIANCE = "compliance."


@dataclass(frozen=True)
class Panel:
    """One panel: a title and the frame's columns it draws."""

    title: str
    columns: tuple[str, ...]


#: How many panels there are (``panels`` always returns this many, some perhaps empty).
PANELS = 5


def panels(frame: pd.DataFrame) -> list[Panel]:
    """The panels for the columns a live model has produced so far."""
    cols = list(frame.columns)

    def having(names: Sequence[str]) -> tuple[str, ...]:
        return tuple(c for c in names if c in cols)

    # Efficiency when the environment has welfare bounds, welfare otherwise.
    has_efficiency = "efficiency" in cols and frame["efficiency"].notna().any()
    return [
        Panel("trust", having(("trust_mean", "trust_calibration"))),
        Panel("efficiency" if has_efficiency else "welfare",
              having(("efficiency",) if has_efficiency else ("welfare",))),
        Panel("cooperation", having(("cooperation_rate",))),
        Panel("conflicts by level (winner.loser)",
              tuple(c for c in cols if c.startswith(BY_LEVEL))),
        Panel("compliance per principle", tuple(c for c in cols if c.startswith(COMPLIANCE))),
    ]


class SeriesChart:
    """The five panels of one live model, drawn on one figure kept across steps.

    Building axes and their ticks is most of what a fresh figure costs, so the
    figure is made once and each step only moves its lines' data (a column seen
    for the first time gets a line, and its panel a new legend).
    """

    def __init__(self) -> None:
        self.figure = Figure(figsize=(6.4, 6.4), dpi=64)
        self.axes = list(np.atleast_1d(self.figure.subplots(PANELS, 1, sharex=True)))
        self.lines: list[dict[str, Any]] = [{} for _ in self.axes]
        self.empty = []
        for ax in self.axes:
            ax.tick_params(labelsize=7)
            ax.yaxis.set_major_locator(MaxNLocator(3))
            self.empty.append(ax.text(0.5, 0.5, "nothing yet", ha="center", va="center",
                                      fontsize=8, color="#777", transform=ax.transAxes))
        self.axes[-1].set_xlabel("step", fontsize=8)
        self.axes[-1].xaxis.set_major_locator(MaxNLocator(6, integer=True))
        self.figure.subplots_adjust(left=0.09, right=0.72, top=0.96, bottom=0.07, hspace=0.45)

    def draw(self, frame: pd.DataFrame) -> Figure:
        """The figure showing ``frame`` (the same figure object every time)."""
        steps = frame.index.to_numpy()
        for k, (ax, panel) in enumerate(zip(self.axes, panels(frame), strict=True)):
            ax.set_title(panel.title, fontsize=9, loc="left")
            self.empty[k].set_visible(not panel.columns or frame.empty)
            lines = self.lines[k]
            added = False
            for col in panel.columns:
                values = frame[col].to_numpy(dtype=float)
                if col in lines:
                    lines[col].set_data(steps, values)
                    continue
                label = col.removeprefix(BY_LEVEL).removeprefix(COMPLIANCE)
                lines[col] = ax.plot(steps, values, label=label, linewidth=1.2)[0]
                added = True
            for col in set(lines) - set(panel.columns):  # efficiency gave way to welfare
                lines.pop(col).remove()
                added = True
            if added and lines:
                ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
            elif added and ax.get_legend() is not None:
                ax.get_legend().remove()
            ax.relim()
            ax.autoscale_view()
        return self.figure


def series_figure(frame: pd.DataFrame) -> Figure:
    """The five panels of a live model's series on a new figure."""
    return SeriesChart().draw(frame)
