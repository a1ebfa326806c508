"""A model stepped by a person: the batch model plus what a live page reads.

:class:`LiveModel` is :class:`sim.model.SpecModel` itself (its ``step`` is
the batch run's ``step``; nothing here changes a decision or a draw), built
the way Mesa's SolaraViz rebuilds a model on *reset*: ``type(model)(**params)``
with keyword parameters only. So the page shows, step for step, what
``specbound run`` stores for the same scenario, overrides and seed
(``tests/test_viz_live.py`` compares them).

On top it keeps, per step, conflicts by winner and loser level (a run stores
only their totals) and the conflict ledger of the last steps, and can apply a
spec patch now, as a ``patch_spec`` script event would.
"""

from __future__ import annotations

import threading
import tomllib
from collections import deque
from collections.abc import Mapping
from typing import Any

import pandas as pd

import scenarios  # noqa: F401  (registers environments and their checks)
from agents.errors import SpecboundError
from sim.model import SpecModel
from sim.scenario import ScriptEvent, load_scenario

#: Steps of conflict events the ledger keeps.
LEDGER_STEPS = 5
#: Rows of the ledger at most (newest kept): a busy step can log thousands.
LEDGER_ROWS = 200
#: Columns of the ledger, in order.
LEDGER_COLUMNS = ("step", "agent", "winner", "winner_level", "loser", "loser_level", "act", "reason")
#: Prefix of the per-step conflict counts by level (the final metric's name, per step).
BY_LEVEL = "conflicts_by_level."
#: Script event index of a patch applied from the page (script events count from 0).
PAGE_EVENT = -1


def parse_value(text: str) -> Any:
    """A typed value as ``--set`` reads it: a TOML scalar or array, else the text itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def as_seed(value: object) -> int:
    """A seed from a page field or a command line: an integer in 0..2^63-1."""
    try:
        seed = int(str(value).strip())
    except ValueError:
        raise SpecboundError(f"seed {value!r}: must be an integer in 0..2^63-1") from None
    if not 0 <= seed < 2**63:
        raise SpecboundError(f"seed {seed}: must be an integer in 0..2^63-1")
    return seed


class SeriesView:
    """Mesa's ``DataCollector`` reading surface over a live model's time series.

    Mesa's plot components call ``model.datacollector.get_model_vars_dataframe()``;
    this answers from the series the model already keeps, so nothing is
    collected twice.
    """

    def __init__(self, model: LiveModel) -> None:
        self._model = model

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """One row per step (index ``step``), one column per metric."""
        return self._model.frame()


class LiveModel(SpecModel):
    """A scenario's model built from keyword parameters, for a live page.

    Args:
        source: a shipped scenario id or a path to a scenario file.
        seed: the run's seed (an integer, or its text from a page field).
        sets: fixed overrides as ``(path, value)`` pairs (the command's ``--set``).
        scenario: Mesa's own scenario object, which its controller passes on
            reset; Mesa keeps its own, so it is ignored here.
        **params: more overrides by dotted path, from the page's controls
            (``groups.buyers.spec``, ``environment.detect_prob``, ...); they win
            over ``sets``.
    """

    def __init__(self, source: str = "", seed: int | str = 0,
                 sets: tuple[tuple[str, Any], ...] = (), scenario: Any = None,
                 **params: Any) -> None:
        if not source:
            raise SpecboundError("no scenario given: name a shipped scenario or a .toml file")
        self.source = source
        self.overrides = {**dict(sets), **params}
        super().__init__(load_scenario(source, self.overrides), seed=as_seed(seed))
        self.stepsotal_steps = self.spec_scenario.steps
        self.by_level: dict[str, list[float]] = {}
        self.ledger: deque[dict[str, Any]] = deque(maxlen=LEDGER_ROWS)
        self._chunks_seen = 0
        # Mesa's play loop steps in a worker thread; a patch from the page must not land mid-step.
        self._lock = threading.RLock()
        self.running = self.stepsotal_steps > 0

    @property
    def datacollector(self) -> SeriesView:  # type: ignore[override]
        """The series as Mesa's plot components read them."""
        return SeriesView(self)

    def step(self) -> None:
        """One batch-model step, then this step's conflicts into the ledger and level counts."""
        with self._lock:
            super().step()
            self._absorb_conflicts()
            self.running = self.steps < self.stepsotal_steps

    def _absorb_conflicts(self) -> None:
        # Only the chunks this step logged: expanding all events each step would
        # grow with the run.
        chunks = self.log.chunks[self._chunks_seen:]
        self._chunks_seen = len(self.log.chunks)
        counts: dict[str, float] = {}
        for step, agents, _partners, outcomes in chunks:
            for i, o in zip(agents.tolist(), outcomes.tolist(), strict=True):
                for ev in self.decisions.conflicts(o):
                    winner_level = "none" if ev.winner_level is None else str(ev.winner_level)
                    key = f"{BY_LEVEL}{winner_level}.{ev.loser_level}"
                    counts[key] = counts.get(key, 0.0) + 1.0
                    self.ledger.append({"step": step, "agent": i, "winner": ev.winner,
                                        "winner_level": winner_level, "loser": ev.loser,
                                        "loser_level": str(ev.loser_level), "act": ev.act,
                                        "reason": ev.reason})
        for key in counts.keys() - self.by_level.keys():
            self.by_level[key] = [0.0] * (self.steps - 1)
        for key, col in self.by_level.items():
            col.append(counts.get(key, 0.0))

    def frame(self) -> pd.DataFrame:
        """The time series so far: the run's own columns, then conflicts by level per step."""
        index = pd.RangeIndex(1, self.steps + 1, name="step")
        data = {**self.series, **dict(sorted(self.by_level.items()))}
        return pd.DataFrame(data, index=index)

    def recent_conflicts(self, steps: int = LEDGER_STEPS) -> pd.DataFrame:
        """Conflict events of the last ``steps`` steps, newest first (at most ``LEDGER_ROWS``)."""
        rows = [r for r in self.ledger if r["step"] > self.steps - steps]
        return pd.DataFrame(rows[::-1], columns=list(LEDGER_COLUMNS))

    def specs_of_groups(self) -> dict[str, str]:
        """Each group's spec id now (a patch keeps the id)."""
        return {gs.name: gs.spec.id for gs in self.groups}

    def patch_now(self, group: str | None, changes: Mapping[str, Any]) -> None:
        """Patch a group's spec (every group's if None) before the next step.

        Exactly what a ``patch_spec`` script event does, logged as one (with
        event index ``PAGE_EVENT``), so a run's ledger shows the intervention.

        Raises:
            SpecboundError: an unknown group, no change, or a patch the spec refuses.
        """
        names = [gs.name for gs in self.groups]
        if group is not None and group not in names:
            raise SpecboundError(f"group {group!r}: not in this scenario; groups: {', '.join(names)}")
        if not changes:
            raise SpecboundError("a spec patch needs at least one PATH=VALUE, e.g. "
                                 "principles.do_not_lie.level=root")
        event = ScriptEvent(index=PAGE_EVENT, type="patch_spec", at=self.steps, when=None, to=group,
                            data=(("set", dict(changes)),))
        with self._lock:
            self.script.apply(event, self)
