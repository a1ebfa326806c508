"""The results of one sweep, read from its store folder.

Analysis works on the latest sweep a store describes (``meta.sweep_id``): a
store folder can hold several sweeps, and mixing their runs in one figure
would average over different questions. Everything a figure or report needs
to name what is available (parameters, metrics) is collected here once, so
error messages can list it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from agents.errors import SpecboundError
from analysis.aggregate import finished

if TYPE_CHECKING:
    from sim.runs.store import Store


@dataclass(frozen=True)
class Results:
    """One sweep's runs and description.

    Attributes:
        folder: the store folder.
        meta: the store's meta table (scenario, question, grid, hashes, ...).
        runs: one row per run of the sweep (``Store.runs(sweep_id)``).
        params: the sweep's grid (and zip) paths, in the order given.
        metrics: final metrics with at least one value among finished runs.
        n_failed: runs of the sweep that failed.
    """

    folder: Path
    meta: dict[str, Any] = field(repr=False)
    runs: pd.DataFrame = field(repr=False)
    params: tuple[str, ...]
    metrics: tuple[str, ...]
    n_failed: int

    @property
    def done(self) -> pd.DataFrame:
        """Finished runs only."""
        return finished(self.runs)[0]

    def steps(self, run_ids: list[int] | None = None) -> pd.DataFrame:
        """Time series ``[run_id, step, metric, value]`` of this sweep's finished runs."""
        ids = self.done["run_id"].astype(int).tolist() if run_ids is None else run_ids
        with _open(self.folder) as store:
            return store.steps(ids)

    @property
    def ledgers(self) -> frozenset[str]:
        """How the finished runs kept their events: ``full``, ``counts``, ``none`` (see --ledger)."""
        if "ledger" not in self.done.columns:
            return frozenset({"full"})
        return frozenset(self.done["ledger"].fillna("full").astype(str))

    def events(self, kind: str | None = None) -> pd.DataFrame:
        """Events of this sweep's finished runs, ``[run_id, step, kind, agent, partner, data, count]``.

        Runs stored with ``--ledger full`` give one row per event (``count`` 1);
        runs stored with ``counts`` give one row per step and distinct event,
        with ``agent`` and ``partner`` unknown; ``none`` runs give nothing.
        """
        done = self.done
        modes = (done["ledger"].fillna("full") if "ledger" in done.columns
                 else pd.Series("full", index=done.index))
        full_ids, count_ids = (set(done.loc[modes == m, "run_id"].astype(int)) for m in ("full", "counts"))
        with _open(self.folder) as store:
            rows = store.events(kind=kind) if full_ids else None
            counts = store.event_counts(kind=kind) if count_ids else None
        parts = []
        if rows is not None:
            parts.append(rows.loc[rows["run_id"].isin(full_ids)].assign(count=1))
        if counts is not None:
            parts.append(counts.loc[counts["run_id"].isin(count_ids)].assign(agent=pd.NA, partner=pd.NA))
        columns = ["run_id", "step", "kind", "agent", "partner", "data", "count"]
        if not parts:
            return pd.DataFrame({c: [] for c in columns})
        frame = pd.concat(parts, ignore_index=True)[columns]
        return frame.sort_values(["run_id"], kind="stable").reset_index(drop=True)

    def step_metrics(self) -> list[str]:
        """Metrics recorded per step (read from the first finished run)."""
        first = self.done["run_id"].astype(int).head(1).tolist()
        return sorted(self.steps(first)["metric"].unique().tolist()) if first else []

    def run_params(self, run_id: int) -> tuple[int, dict[str, Any]]:
        """Seed and full parameter overrides of one run, to rerun it exactly."""
        with _open(self.folder) as store:
            row = store.run_row(run_id)
        return int(row["seed"]), dict(row["params"])

    def require_metric(self, metric: str) -> None:
        """Raise a one-line error listing the metrics if ``metric`` is not one."""
        if metric not in self.metrics:
            raise SpecboundError(f"unknown metric {metric!r} in {self.folder}; available: "
                                 f"{', '.join(self.metrics) or '(none)'}")

    def require_param(self, path: str) -> None:
        """Raise a one-line error listing the grid paths if ``path`` is not one."""
        if path not in self.params:
            raise SpecboundError(f"unknown parameter {path!r} in {self.folder}; swept: "
                                 f"{', '.join(self.params) or '(none: a single grid point)'}")


def _open(folder: Path) -> Store:
    # Imported here so that ``import analysis`` (frames only, in a notebook)
    # does not pull in the simulator.
    from sim.runs.store import Store

    return Store.open(folder)


def load_results(folder: str | os.PathLike[str], sweep: str | None = None) -> Results:
    """Read one sweep of a store folder: ``sweep`` (an id or its prefix), else the latest.

    Raises:
        SpecboundError: the folder does not exist or holds no store, no sweep
            matches ``sweep``, or the sweep has no finished run to analyse.
    """
    path = Path(folder)
    if not path.exists():
        raise SpecboundError(f"{path}: no such folder; give the --out folder of a sweep")
    with _open(path) as store:
        meta = store.meta()
        if sweep is not None:
            known = store.sweeps()
            match = [s for s in known if s.sweep_id.startswith(sweep)]
            if len(match) != 1:
                ids = ", ".join(f"{s.sweep_id} ({s.scenario}, {', '.join(s.grid) or 'no grid'})" for s in known)
                raise SpecboundError(f"{path}: --sweep {sweep!r} matches {len(match)} sweeps; the store holds: {ids}")
            info = match[0]
            # The chosen sweep's own description stands in for the latest one's.
            meta = {**meta, "sweep_id": info.sweep_id, "scenario": info.scenario,
                    "scenario_text": info.scenario_text, "specs": info.specs, "grid": info.grid,
                    "zip": info.zip, "runs": info.runs, "seed": info.seed,
                    "code_version": info.code_version, "question": info.question, "hashes": info.hashes}
        sweep_id = meta.get("sweep_id")
        runs = store.runs(sweep_id) if sweep_id else store.runs()
        grid_paths = store.grid_paths()
        metric_names = store.metric_names()
    # The store's column order is the order the user gave the paths in (meta's
    # JSON is key-sorted), and the first path becomes the x axis.
    declared = {*(meta.get("grid") or {}), *(meta.get("zip") or {})}
    params = tuple(p for p in grid_paths if p in declared and p in runs.columns) or tuple(
        p for p in grid_paths if p in runs.columns and runs[p].notna().any())
    done, n_failed = finished(runs)
    if done.empty:
        raise SpecboundError(f"{path}: the store has no finished runs "
                             f"({n_failed} failed of {len(runs)}); nothing to analyse")
    metrics = tuple(sorted(m for m in metric_names
                           if m in done.columns and m not in params and done[m].notna().any()))
    keep = [c for c in runs.columns if c not in grid_paths or c in params]
    return Results(folder=path, meta=meta, runs=runs[keep].reset_index(drop=True),
                   params=params, metrics=metrics, n_failed=n_failed)
