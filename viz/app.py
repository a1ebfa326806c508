"""The Solara page: Mesa's SolaraViz around a :class:`~viz.live.LiveModel`.

Mesa supplies the frame: step, play, pause and reset (``ModelController``),
the parameter controls (``ModelCreator``, fed by :mod:`viz.controls`) and the
grid of cards. The cards are specbound's own components, written the way
Mesa's plot components are (read ``update_counter`` so a step redraws them;
``FigureMatplotlib`` with dependencies, so nothing is drawn twice):

- the trust network (agents by group or spec, edges by trust);
- the time series (trust, efficiency or welfare, cooperation, conflicts by
  level, compliance per principle);
- the conflict ledger of the last steps;
- the current step and headline values (what ``specbound run`` stores);
- a spec patch applied now.

Solara loads this module by name (``SOLARA_APP=viz.app``); the scenario, its
overrides and the seed come from :mod:`viz.server` through one environment
variable, since Solara builds the page itself, once per browser session.
"""

from __future__ import annotations

import html
import json
import os
from typing import Any

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from agents.errors import SpecboundError
from sim.scenario import load_scenario
from viz.charts import SeriesChart
from viz.controls import initial_values, model_params
from viz.live import LEDGER_STEPS, LiveModel, parse_value
from viz.network import COLOR_BY, NetworkChart
from viz.server import CONFIG_ENV

#: Headline values the status card shows, when the model has them.
HEADLINE = ("trust_mean", "welfare", "efficiency", "cooperation_rate", "conflicts",
            "compliance_rate")
#: Cards scroll inside the grid cell Mesa gives them instead of spilling over the next.
CARD_STYLE = "height:100%;overflow:auto"
#: Ledger rows shown at most (the model keeps more).
LEDGER_SHOWN = 40


def config() -> dict[str, Any]:
    """The page's scenario, ``--set`` overrides and seed, as the server passed them."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise SpecboundError(f"{CONFIG_ENV} is not set: start the page with `specbound viz`")
    return json.loads(raw)


def _deps(model: LiveModel) -> list[Any]:
    # A new model (reset) or a new step must redraw; nothing else does.
    return [id(model), model.steps, update_counter.value]


@solara.component
def NetworkCard(model: LiveModel) -> None:
    """The trust network on its cached layout."""
    update_counter.get()
    color_by = solara.use_reactive(COLOR_BY[0])
    with solara.Card("Trust network", classes=["sb-network"], style=CARD_STYLE):
        solara.ToggleButtonsSingle(value=color_by, values=list(COLOR_BY))
        chart = solara.use_memo(lambda: NetworkChart(model), [id(model)])
        fig = solara.use_memo(lambda: chart.draw(color_by.value), [*_deps(model), color_by.value])
        solara.FigureMatplotlib(fig, format="png", dependencies=[*_deps(model), color_by.value])


@solara.component
def SeriesCard(model: LiveModel) -> None:
    """Trust, efficiency, cooperation, conflicts by level and compliance over steps."""
    update_counter.get()
    with solara.Card("Over time", classes=["sb-series"], style=CARD_STYLE):
        chart = solara.use_memo(SeriesChart, [id(model)])
        fig = solara.use_memo(lambda: chart.draw(model.frame()), _deps(model))
        solara.FigureMatplotlib(fig, format="png", dependencies=_deps(model))


def ledger_html(model: LiveModel, shown: int = LEDGER_SHOWN) -> str:
    """The recent conflicts as an HTML table (escaped), newest first."""
    frame = model.recent_conflicts()
    if frame.empty:
        return f'<p class="sb-empty">No conflict in the last {LEDGER_STEPS} steps.</p>'
    head = "".join(f"<th>{h}</th>" for h in ("step", "agent", "winner", "loser", "levels",
                                             "act", "reason"))
    rows = []
    for r in frame.head(shown).itertuples():
        cells = (r.step, r.agent, r.winner, r.loser, f"{r.winner_level} > {r.loser_level}",
                 r.act, r.reason)
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    more = (f"<p>{len(frame) - shown} more not shown.</p>" if len(frame) > shown else "")
    return (f'<table class="sb-ledger-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>{more}")


@solara.component
def LedgerCard(model: LiveModel) -> None:
    """The conflict ledger of the last steps: who won over whom, by which act, why."""
    update_counter.get()
    with solara.Card(f"Conflicts, last {LEDGER_STEPS} steps", classes=["sb-ledger"], style=CARD_STYLE):
        solara.HTML(tag="div", unsafe_innerHTML=ledger_html(model),
                    style="font-size:12px;max-height:360px;overflow:auto")


def status_text(model: LiveModel) -> str:
    """Step, seed and headline values as ``specbound run`` would store them (6 digits)."""
    last = {k: col[-1] for k, col in model.series.items() if col}
    parts = [f"step {model.steps} of {model.stepsotal_steps}", f"seed {model.seed}"]
    parts += [f"{k} {last[k]:.6g}" for k in HEADLINE if k in last]
    return " · ".join(parts)


@solara.component
def StatusCard(model: LiveModel) -> None:
    """Where the run is and its latest values."""
    update_counter.get()
    with solara.Card("Now", classes=["sb-status"], style=CARD_STYLE), solara.Column():
        solara.Text(status_text(model), classes=["sb-status-text"])
        specs = ", ".join(f"{g}: {s}" for g, s in model.specs_of_groups().items())
        solara.Text(f"specs: {specs}")


@solara.component
def PatchCard(model: LiveModel) -> None:
    """Patch a group's spec before the next step, as a ``patch_spec`` event would."""
    groups = [gs.name for gs in model.groups]
    target = solara.use_reactive(groups[0])
    text = solara.use_reactive("principles.do_not_lie.level=root")
    message = solara.use_reactive(("", True))

    def apply() -> None:
        try:
            path, sep, value = text.value.partition("=")
            if not sep or not path.strip():
                raise SpecboundError(f"{text.value!r}: expected PATH=VALUE, "
                                     "e.g. principles.do_not_lie.level=root")
            model.patch_now(target.value, {path.strip(): parse_value(value.strip())})
        except SpecboundError as err:
            message.set((str(err), False))
            return
        message.set((f"patched {target.value} at step {model.steps}: {text.value}", True))
        force_update()

    with solara.Card("Spec patch", classes=["sb-patch"], style=CARD_STYLE):
        solara.Select("group", value=target, values=groups)
        solara.InputText("PATH=VALUE", value=text, continuous_update=True)
        solara.Button("Apply patch now", color="primary", on_click=apply, classes=["sb-apply"])
        if message.value[0]:
            (solara.Success if message.value[1] else solara.Error)(message.value[0])


@solara.component
def Page() -> None:
    """The dashboard of the scenario the server was started with."""
    cfg = config()
    scenario = solara.use_memo(lambda: load_scenario(cfg["source"], cfg["sets"]), [])
    params = solara.use_memo(
        lambda: model_params(scenario, cfg["source"], cfg["sets"], cfg["seed"]), [])
    model = solara.use_memo(lambda: LiveModel(**initial_values(params)), [])
    components = [(NetworkCard, 0), (SeriesCard, 0), (StatusCard, 0), (LedgerCard, 0),
                  (PatchCard, 0)]
    SolaraViz(model, components=components, model_params=params,
              name=f"specbound: {scenario.id}")
