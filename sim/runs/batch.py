"""Executors: where the runs of a sweep execute.

A sweep is cut into chunks of planned runs. A chunk is a small picklable value
(the task, the scenario and spec texts, and the jobs); a worker turns it into a
list of :class:`RunRecord`, one compact record per run, that the driver writes
to the store and then forgets. Three executors share that one contract:

* :class:`SerialExecutor`: in the driver's own process (debugging, tiny sweeps).
* :class:`ProcessExecutor`: local worker processes, one per core by default.
* :class:`DaskExecutor`: a Dask distributed cluster, local or remote.

A run's outcome depends only on the task, the scenario texts, its parameters
and its seed, so a sweep gives the same records whichever executor runs it,
whatever the worker count or the order in which chunks finish. Every executor
keeps a bounded number of chunks in flight, so the driver's memory does not
grow with the number of runs.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures import process as futures_process
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from agents.errors import SpecboundError
from sim.runs import heap, hygiene
from sim.runs.hygiene import worker_init
from sim.runs.ledger import event_counts
from sim.runs.records import Job, LongSteps, RunRecord

#: Chunks kept in flight per worker: enough to hide scheduling latency, few
#: enough that finished-but-unwritten results stay a small, fixed amount.
IN_FLIGHT_PER_WORKER = 2
#: Upper bound on runs per chunk, so a kill loses little work.
MAX_CHUNK = 32
#: Seconds a pool costs beyond its runs (waiting for the forkserver's imports to end,
#: forking, shipping chunks and records): the default executor stays serial unless
#: the pool saves more than this (see :func:`pool_pays`).
POOL_MIN_SECONDS = 2.0
#: Seconds to wait for a remote Dask scheduler before giving up.
CONNECT_TIMEOUT = 3.0
#: Seconds a stop waits for the pool's manager thread once the workers are killed. It takes
#: milliseconds, unless the signal left a lock it needs taken (see ProcessExecutor.abandon).
ABANDON_SECONDS = 5.0
#: Runs per worker from which a sweep's workers load numba before their first run. A single
#: short run does not win back numba's ~0.8 s import, so it steps (agents.kernel_loader.KERNEL_MIN_WORK);
#: a worker that runs hundreds pays the import once and fuses them all: a 5-step ipd-classic
#: run costs ~6 of ~15 ms less CPU. Results are the same either way (fused equals stepped).
KERNEL_RUNS_PER_WORKER = 200


class ExecutorError(RuntimeError):
    """The executor, not a run, failed (a worker died, a task could not be shipped).

    Runs already finished are in the store; repeating the sweep resumes it.
    """


class RunOutcome(Protocol):
    """What a task returns for one run (``sim.runs.run.RunResult`` satisfies it)."""

    metrics: Mapping[str, float]
    steps: pd.DataFrame
    events: pd.DataFrame


class Task(Protocol):
    """A picklable callable that performs one run.

    ``check`` runs in the driver before any run starts: it validates one
    grid point of the loaded scenario (raising
    :class:`~agents.errors.SpecboundError`) and returns the spec texts that
    point uses (a grid may switch a group to another spec, whose text must
    be stored too). ``__call__`` performs the run in a worker, from texts only.
    An optional ``warm()`` does a process's one-off set-up (imports), so that
    :class:`AutoExecutor` times a run, not the set-up.
    """

    def check(self, scenario: Any, params: Mapping[str, Any]) -> Mapping[str, str]: ...

    def __call__(
        self,
        scenario_text: str,
        spec_texts: Mapping[str, str],
        params: Mapping[str, Any],
        seed: int,
    ) -> RunOutcome: ...


@dataclass(frozen=True)
class EngineTask:
    """The real task: rebuild the scenario from its texts and run the engine.

    Rebuilding from texts (not from a file path) is what makes a run
    reproducible from the store alone, on any machine of a cluster.
    ``plugins``: what the driver loaded (``sim.plugins.loaded()``), imported by
    each worker before its first run, as the driver imported them.
    """

    plugins: tuple[str, ...] = ()

    def check(self, scenario: Any, params: Mapping[str, Any]) -> Mapping[str, str]:
        """Rebuild ``scenario`` with ``params``; ScenarioError names a bad path or value.

        The scenario is rebuilt from its text and source (not from pinned spec
        texts), so a grid may name any spec the scenario could load.
        """
        from sim.scenario import load_scenario_text

        source = getattr(scenario, "source", "") or "<scenario>"
        return load_scenario_text(scenario.text, None, dict(params), source=source).spec_texts

    def warm(self) -> None:
        """Import the engine and the plugins now, once per process, so a timed run times only the run."""
        from sim.plugins import load_entry_points, load_plugins
        from sim.runs import run  # noqa: F401

        load_entry_points()
        load_plugins(self.plugins, "worker plugin")

    def __call__(
        self,
        scenario_text: str,
        spec_texts: Mapping[str, str],
        params: Mapping[str, Any],
        seed: int,
    ) -> RunOutcome:
        """Run the scenario with ``params`` applied and ``seed``."""
        from sim.plugins import load_entry_points, load_plugins
        from sim.runs.run import run
        from sim.scenario import load_scenario_text

        load_entry_points()
        load_plugins(self.plugins, "worker plugin")

        scenario = load_scenario_text(scenario_text, dict(spec_texts), dict(params))
        return run(scenario, seed=seed)


@dataclass(frozen=True)
class Chunk:
    """A batch of jobs shipped to a worker together, to amortise overhead."""

    task: Task
    scenario_text: str
    spec_texts: tuple[tuple[str, str], ...]
    jobs: tuple[Job, ...]
    ledger: str = "full"
    kernels: bool = False  # load numba first (see KERNEL_RUNS_PER_WORKER)



def _is_engine_run(result: Any) -> bool:
    """Whether ``result`` is the engine's ``RunResult``. Another task's result never is, and
    must not pay for importing the engine (mesa, ~1-2 s) to find that out: an engine run can
    only exist once ``sim.runs.run`` is imported."""
    module = sys.modules.get("sim.runs.run")
    return module is not None and isinstance(result, module.RunResult)


def long_steps(result: Any) -> LongSteps | None:
    """A task result's per-step metrics in long form (numeric columns only); None if it has none.

    An engine run's columns are read as they are (``RunResult.step_columns``), without the
    wide frame; another task's ``steps`` frame is read column by column.
    """
    if _is_engine_run(result):
        index, columns = result.step_columns()
    else:
        frame = result.steps
        if frame is None:
            return None
        index = frame.index.to_numpy(np.int64)
        columns = {str(c): frame[c].to_numpy() for c in frame.columns}
    out = LongSteps.of_columns(index, columns)
    return out if len(out) else None


def _events(result: Any) -> pd.DataFrame | None:
    """A task result's events; None for an engine run that logged none (an empty frame of
    Arrow-backed string columns costs about as much as a short run)."""
    return result.logged_events() if _is_engine_run(result) else result.events


def execute_job(chunk: Chunk, job: Job) -> RunRecord:
    """Run one job; a run that raises becomes a failed record with its traceback."""
    started = time.time()
    try:
        result = chunk.task(chunk.scenario_text, dict(chunk.spec_texts), dict(job.params), job.seed)
        metrics = {str(k): float(v) for k, v in dict(result.metrics).items()}
        events, counts = _events(result), None
        if chunk.ledger != "full":
            # Reduced here, in the worker: only what the store keeps is shipped back.
            counts = event_counts(events) if chunk.ledger == "counts" and events is not None else None
            events = None
        return RunRecord(
            job=job,
            status="done",
            started=started,
            ended=time.time(),
            metrics=metrics,
            steps=long_steps(result),
            events=events,
            ledger=chunk.ledger,
            counts=counts,
        )
    except Exception:  # a run's failure is data for the store, never the sweep's end
        return RunRecord(
            job=job,
            status="failed",
            started=started,
            ended=time.time(),
            error=traceback.format_exc(),
            ledger=chunk.ledger,
        )


def execute_chunk(chunk: Chunk) -> list[RunRecord]:
    """Run every job of a chunk in order (the function workers execute)."""
    if chunk.kernels:
        load_kernels()
    return [execute_job(chunk, job) for job in chunk.jobs]


def wants_kernels(n_runs: int, workers: int) -> bool:
    """Whether a sweep of ``n_runs`` on ``workers`` is long enough to load numba in every worker."""
    return n_runs >= KERNEL_RUNS_PER_WORKER * max(1, workers)


def load_kernels() -> None:
    """Import numba in this process, once, if it is installed: environments then choose
    compiled stretches for runs too short to pay for the import alone."""
    if "numba" in sys.modules:
        return
    with contextlib.suppress(ImportError):
        import numba  # noqa: F401


def chunk_size(n_runs: int, workers: int) -> int:
    """Runs per chunk: about twenty chunks per worker (so workers finish close together), capped by :data:`MAX_CHUNK`."""
    return max(1, min(MAX_CHUNK, math.ceil(n_runs / max(1, workers * 20))))


def make_chunks(
    task: Task, scenario_text: str, spec_texts: Mapping[str, str], jobs: Iterable[Job], size: int,
    ledger: str = "full", kernels: bool = False,
) -> Iterator[Chunk]:
    """Group ``jobs`` lazily into chunks of at most ``size`` jobs, keeping ``ledger`` of events;
    ``kernels``: each chunk loads numba first (:func:`wants_kernels`)."""
    texts = tuple(sorted(spec_texts.items()))
    batch: list[Job] = []
    for job in jobs:
        batch.append(job)
        if len(batch) == size:
            yield Chunk(task, scenario_text, texts, tuple(batch), ledger, kernels)
            batch = []
    if batch:
        yield Chunk(task, scenario_text, texts, tuple(batch), ledger, kernels)


class Executor(Protocol):
    """Runs chunks and yields their records as chunks finish, in any order."""

    workers: int

    def map(self, chunks: Iterable[Chunk]) -> Iterator[list[RunRecord]]: ...

    def close(self) -> None: ...


@dataclass
class SerialExecutor:
    """Runs every chunk in the driver's process, in plan order."""

    workers: int = 1

    def map(self, chunks: Iterable[Chunk]) -> Iterator[list[RunRecord]]:
        """Yield each run's record as soon as it has run (nothing to amortise here)."""
        settled = False
        for chunk in chunks:
            if not settled:
                _settle(chunk)
                settled = True
            for job in chunk.jobs:
                yield [execute_job(chunk, job)]

    def close(self) -> None:
        """Nothing to release."""


def _settle(chunk: Chunk) -> None:
    """Before a process the command line owns runs a sweep: import the engine, then freeze the
    heap (``sim.runs.heap``); nothing in a library caller's process."""
    if not heap.OWNED:
        return
    warm = getattr(chunk.task, "warm", None)
    if warm is not None:
        warm()
    heap.settle()


def _bounded(submit, chunks: Iterable[Chunk], limit: int, done_waiter) -> Iterator[Any]:
    """Keep at most ``limit`` submitted chunks pending; yield finished futures."""
    pending: set = set()
    source = iter(chunks)
    exhausted = False
    while True:
        while not exhausted and len(pending) < limit:
            chunk = next(source, None)
            if chunk is None:
                exhausted = True
            else:
                pending.add(submit(chunk))
        if not pending:
            return
        finished, pending = done_waiter(pending)
        yield from finished


def _wait_futures(pending: set[Future]) -> tuple[set[Future], set[Future]]:
    done, rest = wait(pending, return_when=FIRST_COMPLETED)
    return set(done), set(rest)


class ProcessExecutor:
    """Local worker processes (the default executor).

    Workers fork from a preloaded forkserver (:mod:`sim.runs.pool`), so they
    start in milliseconds, warm. As everywhere in multiprocessing, a script that calls
    :func:`sim.runs.sweep.sweep` must do it under ``if __name__ == "__main__":``.

    The pool outlives the sweep: the next sweep in the same process (a
    notebook, a study script, a resumed sweep) finds its workers warm instead
    of paying seconds of start-up again. A pool a dead worker broke is
    replaced; pools are shut down when the process exits.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool = _warm_pool(self.workers)
        # Only the chunks not yet collected: a finished future holds its chunk's records
        # (time series included), so keeping every future grew the driver with every run.
        self._submitted: set[Future] = set()
        self._abandoned = False

    def map(self, chunks: Iterable[Chunk]) -> Iterator[list[RunRecord]]:
        """Yield each chunk's records as it finishes, with bounded chunks in flight."""
        limit = self.workers * IN_FLIGHT_PER_WORKER
        def submit(chunk: Chunk) -> Future:
            future = self._pool.submit(execute_chunk, chunk)
            self._submitted.add(future)
            return future

        futures = _bounded(submit, chunks, limit, _wait_futures)
        while True:
            # A dead worker breaks the pool; it surfaces either from a result or from
            # the next submit, whichever comes first, and means the same either way.
            try:
                future = next(futures, None)
                if future is None:
                    return
                self._submitted.discard(future)
                records = future.result()
            except BrokenProcessPool as err:
                raise ExecutorError(
                    "a sweep worker process died (killed, out of memory, or a script that calls"
                    " sweep() without an `if __name__ == '__main__':` guard)"
                ) from err
            except Exception as err:  # execute_chunk never raises: this is transport
                raise ExecutorError(
                    f"a chunk could not be run: {type(err).__name__}: {err}"
                ) from err
            yield records

    def abandon(self) -> bool:
        """Stop now (SIGINT, SIGTERM): kill the workers, whose runs in flight are lost, not stored.

        Called in the thread the signal interrupted. Waits at most :data:`ABANDON_SECONDS` for
        the pool's manager thread; returns whether it ended. One that did not is left behind
        (:func:`sim.runs.hygiene.give_up_on`): the command's exit does not wait for it.
        """
        pool, self._abandoned = self._pool, True
        # The signal's exception is raised wherever this thread was: between the lock-taking
        # loop of concurrent.futures.wait() and its `with`, it leaves futures' locks taken, and
        # the manager thread, settling those futures, then waits for them forever.
        _release_held(self._submitted)
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        if _POOLS.get(self.workers) is pool:
            del _POOLS[self.workers]
        return _shut_down_within(pool, ABANDON_SECONDS)

    def close(self) -> None:
        """Cancel this sweep's chunks not yet started; the warm workers stay for the next sweep."""
        if self._abandoned:  # shut down, or given up on: its locks may be taken for good
            return
        for future in self._submitted:
            future.cancel()
        if getattr(self._pool, "_broken", False):
            _drop_pool(self.workers, self._pool)


def _release_held(futures: Iterable[Future[Any]]) -> None:
    """Release what this thread still holds of ``futures``' locks (no frame of it is inside them).

    CPython internals: on a Python without them this does nothing (the bounded wait remains).
    """
    for future in futures:
        condition = getattr(future, "_condition", None)
        owned = getattr(condition, "_is_owned", None)
        while condition is not None and owned is not None and owned():
            condition.release()


def _shut_down_within(pool: ProcessPoolExecutor, seconds: float) -> bool:
    """Shut ``pool`` down, waiting at most ``seconds`` for its manager thread; whether it ended.

    The shutdown runs in a daemon thread: even taking the pool's own lock can wait forever if
    the signal left a lock taken that the manager thread needs while it holds that one.
    """
    manager = getattr(pool, "_executor_manager_thread", None)
    calls = getattr(pool, "_call_queue", None)
    if calls is not None:  # what it still holds was for the killed workers: nothing flushes it
        calls.cancel_join_thread()
    ended = threading.Event()

    def shut_down() -> None:
        try:
            # A pipe to a killed worker may be broken by now: that is the stop asked for, not
            # a new error, and no traceback of it may join the stop's one line on stderr.
            with contextlib.suppress(Exception):
                pool.shutdown(wait=True, cancel_futures=True)
        finally:
            ended.set()

    threading.Thread(target=shut_down, name="specbound-pool-shutdown", daemon=True).start()
    if ended.wait(seconds):
        return True
    if manager is not None:
        # Neither concurrent.futures' exit hook nor the command's exit may wait for it.
        futures_process._threads_wakeups.pop(manager, None)
        hygiene.give_up_on(manager)
    return False


#: Warm worker pools by size, shared by the sweeps of this process (see ProcessExecutor).
_POOLS: dict[int, ProcessPoolExecutor] = {}


def _warm_pool(workers: int) -> ProcessPoolExecutor:
    pool = _POOLS.get(workers)
    if pool is not None and not getattr(pool, "_broken", False):
        return pool
    if pool is not None:
        _drop_pool(workers, pool)
    from sim.runs.pool import context

    # Workers die with the driver however it dies, and leave Ctrl-C to it (sim.runs.hygiene).
    pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=context(),
                                                 initializer=worker_init, initargs=(os.getpid(),))
    return pool


def _drop_pool(workers: int, pool: ProcessPoolExecutor) -> None:
    if _POOLS.get(workers) is pool:
        del _POOLS[workers]
    pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _shutdown_pools() -> None:
    for workers, pool in list(_POOLS.items()):
        _POOLS.pop(workers, None)
        pool.shutdown(wait=True, cancel_futures=True)


def pool_pays(runs_left: int, seconds: float, workers: int) -> bool:
    """Whether ``workers`` processes finish ``runs_left`` runs of ``seconds`` each sooner than the driver alone.

    The pool's time is whole rounds of runs (a run is not split), plus
    :data:`POOL_MIN_SECONDS` of its own; serially it is every run in turn. One
    run left, or work under the pool's own cost, stays serial: a small sweep is
    never slower than serial.
    """
    rounds = math.ceil(runs_left / max(1, workers))
    return workers > 1 and rounds * seconds + POOL_MIN_SECONDS < runs_left * seconds


class AutoExecutor:
    """The default (no ``--workers``): serial for a small sweep, worker processes for a large one.

    The driver runs the first run itself, timed, while the pool's forkserver
    warms up (:func:`sim.runs.pool.prestart`); the task's one-off set-up
    (``warm()``: importing the engine) is done first and not timed, so it does
    not make runs look longer than they are. When :func:`pool_pays` says the
    pool would not finish the rest sooner, the driver runs them too, so a small
    sweep is never slower than serial. Otherwise the pool takes the rest.
    Which process runs a job changes nothing in its record.
    """

    def __init__(self, runs: int, workers: int | None = None) -> None:
        self.runs = runs
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessExecutor | None = None

    def map(self, chunks: Iterable[Chunk]) -> Iterator[list[RunRecord]]:
        """The first run here, timed; the rest here or on the pool, by the estimate."""
        source = iter(chunks)
        first = next(source, None)
        if first is None:
            return
        warm = getattr(first.task, "warm", None)
        if warm is not None:
            warm()
        start = time.perf_counter()
        record = execute_job(first, first.jobs[0])
        # Timed before the yield: what the caller does with the record (the store's first
        # write) is not the run's time.
        seconds = time.perf_counter() - start
        yield [record]
        rest = itertools.chain([replace(first, jobs=first.jobs[1:])] if first.jobs[1:] else [], source)
        if not pool_pays(self.runs - 1, seconds, self.workers):
            yield from SerialExecutor().map(rest)
            return
        self._pool = ProcessExecutor(self.workers)
        yield from self._pool.map(rest)

    def abandon(self) -> bool:
        """Stop now: as :meth:`ProcessExecutor.abandon`, if the pool was used."""
        return self._pool.abandon() if self._pool is not None else True

    def close(self) -> None:
        """Release this sweep's pool work, if the pool was used."""
        if self._pool is not None:
            self._pool.close()


#: Dask settings of a local cluster whose every process shares the machine's cores with the
#: runs. Dask's defaults suit a dashboard watching a cluster: a stack sample every 10 ms in each
#: worker, an event-loop health check every 20 ms and a system sample every 500 ms in each of
#: the scheduler, the nannies and the workers, a memory check every 100 ms per nanny and worker.
#: Each wakes a process and takes the GIL from a run; on two cores the driver's share alone was
#: ~15 ms of CPU per run. Nothing reads the profile, the ticks only time warnings, and a memory
#: check a second still stops a runaway worker long before it fills the machine.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def local_cluster(workers: int) -> Any:
    """A Dask LocalCluster of ``workers`` one-thread processes, without dashboard.

    The scheduler still serves health checks over HTTP; it gets a free port
    rather than 8787, so several sweeps (or test sessions) can run at once.
    The worker processes fork from the forkserver of :mod:`sim.runs.pool`
    (Dask's default is a fresh interpreter each, ~3 s of imports apiece): it
    has imported ``distributed``, the engine and the shipped scenarios once for
    every worker, with one thread per numeric library (as Dask's own fresh
    workers get), and the command line started it before parsing. Each worker
    keeps those modules, and the cells its runs compile, for every later task;
    ``preload`` imports them where there is no forkserver. The statistical
    profiler (a stack sample every 10 ms in each worker) is off: nothing reads
    it, and it takes the GIL from the runs; nor are the other periodic checks
    of :data:`QUIET_CLUSTER` run at dashboard rates.
    """
    import dask
    from distributed import LocalCluster

    from sim.runs.pool import PRELOAD, context, prestart

    method = context(dask=True).get_start_method()
    prestart(dask=True)  # at once if the command line already started it
    settings = {"distributed.worker.multiprocessing-method": method, **QUIET_CLUSTER}
    with dask.config.set(settings):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            preload=list(PRELOAD),
        )


class DaskExecutor:
    """A Dask distributed cluster: ``"local"`` starts one, ``"tcp://..."`` joins one.

    The connection is made in the constructor, so an unreachable scheduler is
    a one-line :class:`SpecboundError` before any run starts.
    """

    def __init__(self, address: str, workers: int | None = None) -> None:
        try:
            from distributed import Client
        except ImportError as err:
            raise SpecboundError(
                "--dask needs the 'distributed' package: pip install 'specbound[distributed]'"
            ) from err
        self._cluster = None
        if address == "local":
            n = workers or os.cpu_count() or 1
            self._cluster = local_cluster(n)
            self._client = Client(self._cluster)
        else:
            if not address.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
                raise SpecboundError(
                    f"--dask {address!r}: expected 'local' or a scheduler address like tcp://HOST:PORT"
                )
            try:
                self._client = Client(address, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as err:
                raise SpecboundError(
                    f"--dask {address}: no Dask scheduler reachable there within {CONNECT_TIMEOUT:g}s"
                ) from err
        n_workers = len(self._client.scheduler_info().get("workers", {}))
        self.workers = max(1, n_workers)

    def map(self, chunks: Iterable[Chunk]) -> Iterator[list[RunRecord]]:
        """Yield each chunk's records as it finishes, with bounded chunks in flight."""
        from distributed import wait as dask_wait

        def waiter(pending):
            result = dask_wait(list(pending), return_when="FIRST_COMPLETED")
            return set(result.done), set(result.not_done)

        limit = self.workers * IN_FLIGHT_PER_WORKER
        submit = lambda c: self._client.submit(execute_chunk, c, pure=False)  # noqa: E731
        for future in _bounded(submit, chunks, limit, waiter):
            try:
                records = future.result()
            except Exception as err:  # execute_chunk never raises: a lost worker or scheduler
                raise ExecutorError(
                    f"the Dask cluster lost a chunk: {type(err).__name__}: {err}"
                ) from err
            future.release()
            yield records

    def close(self) -> None:
        """Disconnect, and stop the cluster if this executor started it."""
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(workers: int | None = None, dask: str | None = None,
                  runs: int | None = None) -> Executor:
    """Choose the executor: Dask when asked, serial for one worker, processes for more.

    With no worker count and the number of ``runs`` known, the
    :class:`AutoExecutor` picks from the measured cost of the first run.
    """
    if workers is not None and workers < 1:
        raise SpecboundError(f"--workers {workers}: must be 1 or more")
    if dask:
        return DaskExecutor(dask, workers)
    if workers == 1:
        return SerialExecutor()
    if workers is None and runs is not None:
        return AutoExecutor(runs)
    return ProcessExecutor(workers)
