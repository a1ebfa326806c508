"""A scenario as a Mesa model built from keyword parameters, for ``mesa.batch_run``.

Mesa's ``batch_run`` builds ``model_cls(**parameters, seed=...)``, steps it
while ``model.running`` and reads ``model.datacollector``. :class:`BatchModel`
meets that contract over any scenario: its parameters are the scenario id and
dotted override paths (as ``--set`` takes them), its data collector holds
every per-step metric the run's store would hold. specbound's own ``sweep``
remains the tool for paired seeds, resumable stores and clusters; this is for
users who come from Mesa.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.mesa_import import mesa
from sim.keywords import keyword_overrides
from sim.model import SpecModel
from sim.scenario import load_scenario


class MetricsCollector(mesa.DataCollector):
    """A ``mesa.DataCollector`` of the model's per-step metrics, whatever their names.

    Metrics can first appear mid-run (a principle that first applies, a
    newcomer's group), so reporters are added as names appear, with NaN for
    the steps before; ``get_model_vars_dataframe()`` then has one column per
    metric (and ``seed``) and one row per step.
    """

    def collect(self, model: Any) -> None:
        done = len(self._collection_steps)
        self._collection_steps.append(model.time)
        # The seed drawn for an unseeded run, so that any row can be replayed.
        values = {"seed": model.seed, **model.last_metrics}
        for name in values:
            if name not in self.model_vars:
                self.model_reporters[name] = name  # documents the column; values come from the step
                self.model_vars[name] = [float("nan")] * done
        for name, column in self.model_vars.items():
            column.append(values.get(name, float("nan")))


class BatchModel(SpecModel):
    """A scenario's model from keyword parameters (Mesa's batch-run convention).

    Args:
        scenario: a shipped scenario's id or a path to its file.
        seed: the run's seed; ``None`` draws a fresh one (Mesa's meaning of an
            unseeded run), kept in ``model.seed`` and in the data frame.
        **params: dotted override paths, ``environment.detect_prob=0.5`` passed
            as ``**{"environment.detect_prob": 0.5}`` or as
            ``environment__detect_prob=0.5``; ``steps`` sets the run's length.

    The model stops (``running = False``) after the scenario's steps;
    ``model.final_metrics()`` gives the run's totals as ``specbound run`` does.
    """

    def __init__(self, scenario: str | Path = "ipd-classic", seed: int | None = None, **params: Any) -> None:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
        super().__init__(load_scenario(scenario, keyword_overrides(params)), seed=int(seed))
        self.datacollector = MetricsCollector()

    def step(self) -> None:
        super().step()
        self.datacollector.collect(self)
        if self.steps >= self.spec_scenario.steps:
            self.running = False
