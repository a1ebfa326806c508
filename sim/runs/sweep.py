"""Parameter sweeps: plan, validate, execute, store, resume, rerun.

A sweep is a grid of parameter points (the cartesian product of ``grid``
paths, times the rows of ``zip`` paths that vary together) and ``runs``
repetitions per point. Run ``k`` of every point gets the same seed, derived
from the sweep seed and ``k`` only (common random numbers), so differences
between points are paired comparisons. Run ids are planned, not assigned on
completion: ``run_id = first_run + point * runs + rep``, so a resumed sweep
knows exactly which runs are missing.

Every grid point is validated (the scenario is rebuilt with its overrides)
before any run starts; bad paths and values fail fast with a one-line
:class:`~agents.errors.SpecboundError`. Results stream into the store one
transaction per run; the driver keeps no results in memory.
"""

from __future__ import annotations

import itertools
import math
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from agents.errors import SpecboundError
from sim.limits import MAX_RUNS, MAX_SWEEP_RUNS
from sim.plugins import loaded as loaded_plugins
from sim.runs.batch import (
    EngineTask,
    Executor,
    Task,
    chunk_size,
    make_chunks,
    make_executor,
    wants_kernels,
)
from sim.runs.hygiene import sigterm_as_interrupt, stopping
from sim.runs.ledger import DEFAULT_LEDGER, check_ledger
from sim.runs.lock import FolderLock
from sim.runs.records import Job
from sim.runs.store import Store, SweepInfo, check_folder, code_version, store_path

#: Final metrics shown first in summaries, when a scenario produces them.
MAIN_METRICS = (
    "welfare",
    "efficiency",
    "trust_mean",
    "cooperation_rate",
    "conflicts",
    "violations",
)


class ScenarioLike(Protocol):
    """What the sweep needs of a loaded scenario (``sim.scenario.Scenario`` fits)."""

    id: str
    text: str
    spec_texts: dict[str, str]
    sweep: dict[str, Any] | None


@dataclass(frozen=True)
class Plan:
    """The planned points of a sweep, before any run."""

    grid: dict[str, list[Any]]
    zip: dict[str, list[Any]]
    runs: int
    seed: int
    points: tuple[dict[str, Any], ...]

    def jobs(self, first_run: int) -> Iterator[Job]:
        """Every planned run, in run-id order."""
        for point, params in enumerate(self.points):
            items = tuple(params.items())
            for rep in range(self.runs):
                yield Job(
                    first_run + point * self.runs + rep, point, rep, rep_seed(self.seed, rep), items
                )


def rep_seed(seed: int, rep: int) -> int:
    """Seed of repetition ``rep``: from the sweep seed and ``rep`` only, never the point."""
    return int(np.random.SeedSequence([int(seed), int(rep)]).generate_state(1, dtype=np.uint32)[0])


def _values(where: str, path: str, values: Any) -> list[Any]:
    if not isinstance(path, str) or not path:
        raise SpecboundError(f"{where}: path {path!r} must be a non-empty dotted path")
    if not isinstance(values, (list, tuple)) or not values:
        raise SpecboundError(f"{where} {path}: expected a non-empty list of values, got {values!r}")
    seen: list[Any] = []
    for v in values if where == "grid" else ():  # zip rows may repeat a value in one path
        if any(v == s and type(v) is type(s) for s in seen):
            # A repeated grid value is a repeated point: twice the runs, paired with themselves.
            raise SpecboundError(f"{where} {path}: value {v!r} is given twice; raise --runs for more runs")
        seen.append(v)
    return list(values)


def make_plan(
    grid: Mapping[str, Sequence[Any]] | None,
    zipped: Mapping[str, Sequence[Any]] | None,
    runs: int,
    seed: int,
) -> Plan:
    """Expand grid and zip into points; check shapes, runs and seed."""
    g = {p: _values("grid", p, v) for p, v in (grid or {}).items()}
    z = {p: _values("zip", p, v) for p, v in (zipped or {}).items()}
    if both := sorted(set(g) & set(z)):
        raise SpecboundError(f"grid and zip both vary {both[0]}: a path may appear in only one")
    if len({len(v) for v in z.values()}) > 1:
        sizes = ", ".join(f"{p}={len(v)}" for p, v in z.items())
        raise SpecboundError(
            f"zip paths vary together and need the same number of values; got {sizes}"
        )
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
        raise SpecboundError(f"runs {runs!r}: must be an integer in 1..{MAX_RUNS:,}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise SpecboundError(f"seed {seed!r}: must be an integer in 0..2^63-1")
    n_zip = len(next(iter(z.values()))) if z else 1
    planned = math.prod(len(v) for v in g.values()) * n_zip * runs
    if planned > MAX_SWEEP_RUNS:
        raise SpecboundError(f"the sweep plans {planned:,} runs (points x runs); at most {MAX_SWEEP_RUNS:,}"
                             " are allowed in one store")
    zip_rows = [{p: v[i] for p, v in z.items()} for i in range(n_zip)]
    points = tuple(
        dict(zip(g, combo, strict=True)) | row
        for combo in itertools.product(*g.values())
        for row in zip_rows
    )
    return Plan(g, z, runs, seed, points)


def load(scenario: str | os.PathLike | ScenarioLike) -> ScenarioLike:
    """A loaded scenario from a shipped id, a path, or an already loaded scenario."""
    if isinstance(scenario, (str, os.PathLike)):
        from sim.scenario import load_scenario

        return load_scenario(str(scenario), {})
    return scenario


def check_spec_paths_used(scenario: ScenarioLike, plan: Plan) -> None:
    """Refuse a spec path (``specs.<id>....``) whose spec no grid point uses.

    Each point alone may patch a spec only other points use (a grid switching a
    group's spec, a zip patching one of the choices), so the check is across points.
    """
    from sim.scenario import check_spec_paths, load_scenario_text, spec_of_path, used_specs

    paths = [p for p in (*plan.grid, *plan.zip) if spec_of_path(p) is not None]
    if not paths:
        return
    source = getattr(scenario, "source", "") or "<scenario>"
    used: set[str] = set()
    for point in plan.points:
        used.update(used_specs(load_scenario_text(scenario.text, None, dict(point), source=source)))
    check_spec_paths(paths, sorted(used), " at any grid point")


def plan_for(
    scenario: ScenarioLike,
    grid: Mapping[str, Sequence[Any]] | None,
    zipped: Mapping[str, Sequence[Any]] | None,
    runs: int | None,
    seed: int | None,
) -> Plan:
    """The plan: explicit arguments, else the scenario's own ``[sweep]`` table.

    ``grid=None`` and ``zip=None`` mean "not given" (the scenario's table
    applies); an empty mapping means "no grid" (``run --runs N``).
    """
    table = dict(getattr(scenario, "sweep", None) or {})
    unknown = sorted(set(table) - {"grid", "zip", "runs", "seed", "ledger"})
    if unknown:
        raise SpecboundError(
            f"scenario {scenario.id}: [sweep] key {unknown[0]!r} is unknown; allowed: grid, zip, runs, seed, ledger"
        )
    from_table = grid is None and zipped is None
    return make_plan(
        table.get("grid") if from_table else grid,
        table.get("zip") if from_table else zipped,
        runs if runs is not None else table.get("runs", 1),
        seed if seed is not None else table.get("seed", 0),
    )


def ledger_for(scenario: ScenarioLike, ledger: str | None) -> str:
    """How much of each run's events to keep: ``ledger``, else the ``[sweep]`` table's, else full."""
    if ledger is not None:
        return check_ledger(ledger)
    table = dict(getattr(scenario, "sweep", None) or {})
    if "ledger" in table:
        return check_ledger(table["ledger"], f"scenario {scenario.id}: [sweep] ledger")
    return DEFAULT_LEDGER


def default_out(scenario_id: str) -> Path:
    """Default output folder: stable per scenario, so rerunning the command resumes."""
    return Path("out") / f"sweep-{scenario_id}"


def sweep(
    scenario: str | os.PathLike | ScenarioLike,
    grid: Mapping[str, Sequence[Any]] | None = None,
    zip: Mapping[str, Sequence[Any]] | None = None,
    runs: int | None = None,
    seed: int | None = None,
    out: str | os.PathLike | None = None,
    workers: int | None = None,
    dask: str | None = None,
    resume: bool = False,
    allow_grid_change: bool = False,
    progress: bool | None = None,
    *,
    retry_failed: bool = False,
    task: Task | None = None,
    wait: bool = False,
    ledger: str | None = None,
) -> pd.DataFrame:
    """Run a parameter sweep into the store of ``out``; return one row per run.

    Args:
        scenario: shipped scenario id, path, or loaded scenario.
        grid: ``{dotted path: [values]}``, crossed with each other (cartesian product).
        zip: ``{dotted path: [values]}`` varied together (equal lengths).
        runs: repetitions per grid point (default: the ``[sweep]`` table's, else 1).
        seed: sweep seed; run k's seed derives from (seed, k) only.
        out: output folder (default ``out/sweep-<scenario id>``).
        workers: local worker processes (default one per core; 1 = serial in-process),
            or the number of workers of ``dask="local"``.
        dask: ``"local"`` (start a LocalCluster) or a scheduler address ``tcp://HOST:PORT``.
        resume: continue the sweep stored in ``out``: grid, zip, runs and seed not
            given are taken from the latest stored sweep of this scenario; an error
            if there is none. (Repeating the same call resumes too, without it.)
        allow_grid_change: let a different sweep join an existing store as a new
            sweep id; otherwise a changed grid, scenario, runs or seed is refused.
        progress: show a progress bar on stderr (default: when stderr is a terminal).
        retry_failed: rerun runs stored as failed (their failed row is replaced).
        task: the run function (default :class:`~sim.runs.batch.EngineTask`, the engine).
        wait: if another sweep holds the folder's lock, wait for it instead of refusing.
        ledger: how much of each run's events the store keeps: ``"full"`` (every
            event), ``"counts"`` (per-step counts of each distinct event) or
            ``"none"``; default the ``[sweep]`` table's ``ledger``, else full.
            See :mod:`sim.runs.ledger`.

    Returns:
        DataFrame with run_id, point, rep, seed, status, error, one column per
        grid path and one per final metric; ``attrs["store"]`` is the store path,
        ``attrs["sweep_id"]`` the sweep id.

    Raises:
        SpecboundError: bad grid path or value, bad output folder, store of
            another schema, changed sweep, unreachable Dask scheduler; all before
            any run starts.
    """
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise SpecboundError(f"--workers {workers}: must be 1 or more")
    scen = load(scenario)
    kept = ledger_for(scen, ledger)
    if not resume and (task is None or isinstance(task, EngineTask)):
        # Before the folder is made; a resumed sweep's paths were checked when it began.
        check_spec_paths_used(scen, plan_for(scen, grid, zip, runs, seed))
    folder = Path(out) if out is not None else default_out(scen.id)
    db = check_folder(folder)
    if resume:
        grid, zip, runs, seed = _resumed(db, scen.id, grid, zip, runs, seed)
    plan = plan_for(scen, grid, zip, runs, seed)
    task = task or EngineTask(plugins=loaded_plugins())
    spec_texts = dict(scen.spec_texts)
    for params in plan.points:
        spec_texts.update(task.check(scen, params))
    info = SweepInfo(
        sweep_id="",
        scenario=scen.id,
        scenario_text=scen.text,
        specs=dict(sorted(spec_texts.items())),
        grid=plan.grid,
        zip=plan.zip,
        runs=plan.runs,
        seed=plan.seed,
        points=len(plan.points),
        code_version=code_version(),
        question=str(getattr(scen, "question", "") or ""),
    )
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with FolderLock(folder, wait=wait), sigterm_as_interrupt():
            frame = _locked(folder, db, info, plan, allow_grid_change, retry_failed, workers, dask,
                            progress, task, kept)
    except BaseException as err:
        if isinstance(err, KeyboardInterrupt):  # SIGINT, SIGTERM: wherever it found the sweep,
            stopping()  # the command's exit may not wait on what it left (cli.main.exit_now)
        if made and not any(folder.iterdir()):  # refused before anything was stored
            folder.rmdir()
        raise
    frame.attrs["store"] = str(db)
    frame.attrs["paths"] = [*plan.grid, *plan.zip]
    return frame


def _locked(folder: Path, db: Path, info: SweepInfo, plan: Plan, allow_grid_change: bool,
            retry_failed: bool, workers: int | None, dask: str | None, progress: bool | None,
            task: Task, kept: str) -> pd.DataFrame:
    """The part of a sweep that reads and writes the store, run under the folder's lock."""
    info = _with_identity(info, db, allow_grid_change)
    existing = _stored_status(db, info.sweep_id)
    redo = {"failed"} if retry_failed else set()
    pending = [
        job
        for job in plan.jobs(info.first_run)
        if job.run_id not in existing or existing[job.run_id] in redo
    ]
    executor = make_executor(workers, dask, runs=len(pending)) if pending else None
    try:
        with Store.create_or_open(folder) as store:
            if store.sweep(info.sweep_id) is None:
                store.add_sweep(info)
            if executor is not None:
                _drive(store, info, plan, pending, existing, executor, progress, task, kept)
            frame = _result_frame(store, info)
    except KeyboardInterrupt:
        abandon = getattr(executor, "abandon", None)
        if abandon is not None:  # runs in flight are abandoned; the store holds every finished one
            abandon()
        raise
    finally:
        if executor is not None:
            executor.close()
    frame.attrs["sweep_id"] = info.sweep_id
    return frame


def _with_identity(info: SweepInfo, db: Path, allow_grid_change: bool) -> SweepInfo:
    """Give ``info`` its sweep id and first run id, refusing a silent change of sweep."""
    fingerprint = info.fingerprint
    ident = SweepInfo(**{**info.__dict__, "sweep_id": fingerprint})
    if not db.exists() or db.stat().st_size == 0:
        return ident
    with Store.open(db) as store:
        known = store.sweep(fingerprint)
        if known is not None:
            if known.code_version != info.code_version:
                print(f"specbound: warning: resuming a sweep stored by {known.code_version} with "
                      f"{info.code_version}; runs already stored are not rerun", file=sys.stderr)
            return SweepInfo(**{**ident.__dict__, "first_run": known.first_run})
        sweeps = store.sweeps()
        if sweeps and not allow_grid_change:
            last = sweeps[-1]
            raise SpecboundError(
                f"{db}: holds sweep {last.sweep_id} ({_describe(last)}), which differs from this one"
                f" ({_describe(info)}); use another --out, or --allow-grid-change to add it as a new sweep"
            )
        return SweepInfo(**{**ident.__dict__, "first_run": store.next_run_id()})


def _describe(info: SweepInfo) -> str:
    paths = "; ".join(f"{p}={','.join(map(str, v))}" for p, v in {**info.grid, **info.zip}.items()) or "no grid"
    return f"scenario {info.scenario}, {paths}, {info.points} points x {info.runs} runs, seed {info.seed}"


def _resumed(
    db: Path,
    scenario_id: str,
    grid: Mapping[str, Sequence[Any]] | None,
    zipped: Mapping[str, Sequence[Any]] | None,
    runs: int | None,
    seed: int | None,
) -> tuple[Any, Any, int | None, int | None]:
    """For ``resume``: the latest stored sweep of this scenario fills what was not given.

    So ``sweep SCENARIO --out DIR --resume`` continues without retyping the grid.
    """
    if not db.exists() or db.stat().st_size == 0:
        raise SpecboundError(f"--resume: {db.parent} holds no sweep to resume (no {db.name})")
    with Store.open(db) as store:
        mine = [s for s in store.sweeps() if s.scenario == scenario_id]
    if not mine:
        raise SpecboundError(f"--resume: {db} holds no sweep of scenario {scenario_id!r}")
    last = mine[-1]
    if grid is None and zipped is None:
        grid, zipped = last.grid, last.zip
    return grid, zipped, last.runs if runs is None else runs, last.seed if seed is None else seed


def _stored_status(db: Path, sweep_id: str) -> dict[int, str]:
    if not db.exists() or db.stat().st_size == 0:
        return {}
    with Store.open(db) as store:
        return store.status_of(sweep_id)


def _drive(
    store: Store,
    info: SweepInfo,
    plan: Plan,
    pending: list[Job],
    existing: dict[int, str],
    executor: Executor,
    progress: bool | None,
    task: Task,
    ledger: str,
) -> None:
    """Stream finished runs into the store, one transaction each; keep nothing."""
    from tqdm import tqdm

    total = len(plan.points) * plan.runs
    show = sys.stderr.isatty() if progress is None else progress
    failed = sum(1 for s in existing.values() if s == "failed")
    bar = tqdm(
        total=total,
        initial=total - len(pending),
        desc=f"sweep {info.scenario}",
        unit="run",
        file=sys.stderr,
        disable=not show,
        dynamic_ncols=True,
    )
    bar.set_postfix(failed=failed)
    size = chunk_size(len(pending), executor.workers)
    kernels = wants_kernels(len(pending), executor.workers)
    chunks = make_chunks(task, info.scenario_text, info.specs, pending, size, ledger, kernels)
    stored = total - len(pending)
    try:
        for records in executor.map(chunks):
            for rec in records:
                store.write_run(
                    info.sweep_id, info.scenario, rec, replace=rec.job.run_id in existing
                )
                failed += rec.status == "failed"
                stored += 1
            bar.update(len(records))
            bar.set_postfix(failed=failed)
    except KeyboardInterrupt as err:
        raise SweepInterrupted(getattr(err, "signum", signal.SIGINT), stored, total) from None
    finally:
        bar.close()


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by SIGINT or SIGTERM; every finished run is stored, the rest is not."""

    def __init__(self, signum: int, stored: int, total: int) -> None:
        super().__init__(signum, stored, total)
        self.signum, self.stored, self.total = signum, stored, total

    def __str__(self) -> str:
        name = signal.Signals(self.signum).name
        return (f"interrupted ({name}): {self.stored} of {self.total} runs stored; "
                "repeat the command to resume")


def _result_frame(store: Store, info: SweepInfo) -> pd.DataFrame:
    """The sweep's rows: ids, status, its own grid paths, then every metric."""
    frame = store.runs(info.sweep_id)
    paths = [*info.grid, *info.zip]
    others = set(store.grid_paths()) - set(paths)
    metric_cols = [c for c in frame.columns if c in set(store.metric_names()) and c not in paths]
    keep = ["run_id", "point", "rep", "seed", "status", "error", *paths, *metric_cols]
    return frame[[c for c in keep if c in frame.columns and c not in others]].reset_index(drop=True)


def summary(
    frame: pd.DataFrame,
    paths: Sequence[str] | None = None,
    metrics: Sequence[str] = MAIN_METRICS,
    limit: int = 4,
) -> pd.DataFrame:
    """Per grid point: its parameters, runs, failed runs and the mean of a few main metrics."""
    paths = list(paths if paths is not None else frame.attrs.get("paths", []))
    fixed = {"run_id", "point", "rep", "seed", "status", "error", *paths}
    numeric = [
        c for c in frame.columns if c not in fixed and pd.api.types.is_numeric_dtype(frame[c])
    ]
    chosen = [m for m in metrics if m in numeric][:limit] or numeric[:limit]
    by_point = frame.groupby("point", sort=True)
    table = (
        by_point[paths].first() if paths else pd.DataFrame(index=sorted(frame["point"].unique()))
    )
    table["runs"] = by_point.size()
    table["failed"] = by_point["status"].apply(lambda s: int((s == "failed").sum()))
    means = frame[frame["status"] == "done"].groupby("point", sort=True)[chosen].mean()
    return table.join(means, how="left")


def rerun(folder: str | os.PathLike, run_id: int, task: Task | None = None) -> dict[str, Any]:
    """Rerun one stored run from the store alone and compare its final metrics.

    The scenario text, spec texts, parameters and seed all come from the store,
    so this checks that a result is reproducible with the current code.

    Returns:
        ``{"run_id", "sweep_id", "seed", "params", "match", "stored", "rerun",
        "differences": {metric: [stored, rerun]}, "stored_code_version",
        "code_version"}``; a stored failed run matches if it fails again.
    """
    task = task or EngineTask(plugins=loaded_plugins())
    with Store.open(folder) as store:
        row = store.run_row(run_id)
        info = store.sweep(row["sweep_id"])
    if info is None:
        raise SpecboundError(
            f"{store_path(folder)}: run {run_id} names sweep {row['sweep_id']}, which is not stored"
        )
    error = None
    try:
        metrics = {
            k: float(v)
            for k, v in dict(
                task(info.scenario_text, info.specs, row["params"], row["seed"]).metrics
            ).items()
        }
    except Exception as err:  # compared with the stored outcome, not raised
        metrics, error = {}, f"{type(err).__name__}: {err}"
    stored = {k: (math.nan if v is None else float(v)) for k, v in row["metrics"].items()}
    diffs = {
        k: [stored.get(k), metrics.get(k)]
        for k in sorted(set(stored) | set(metrics))
        if not _same(stored.get(k), metrics.get(k))
    }
    failed_again = row["status"] == "failed" and error is not None
    return {
        "run_id": int(run_id),
        "sweep_id": row["sweep_id"],
        "seed": row["seed"],
        "params": row["params"],
        "status": row["status"],
        "match": failed_again or (row["status"] == "done" and error is None and not diffs),
        "error": error,
        "stored": stored,
        "rerun": metrics,
        "differences": diffs,
        "stored_code_version": info.code_version,
        "code_version": code_version(),
    }


def _same(a: float | None, b: float | None) -> bool:
    """Equal metrics; NaN equals NaN (JSON stores it as null), tiny float noise allowed."""
    if a is None or b is None:
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
