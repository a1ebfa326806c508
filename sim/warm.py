"""Compile every kernel ahead of the first run that needs it (``specbound warm``).

Why: numba compiles a kernel the first time a run reaches it and keeps the machine code on
disk (``agents.kernel_cache``: one directory per version of the kernels' sources). With a cold
cache a user's first run of a compiled scenario waits for the compiler, 10-70 s of CPU a
scenario (``tools/compile_cost.py``), and ``make test``'s two workers would each compile the
kernels they meet. Warming runs each shipped scenario with numba loaded (every environment
then takes its compiled stretch, whatever the run's size), three times in one process as a
sweep's worker would, on several processes, then leaves a mark in the keyed directory: a
second call finds it and costs nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from agents.kernel_cache import cache_dir, stale


@dataclass(frozen=True)
class Warmup:
    """One warming run: a shipped scenario, at about ``agents`` agents in its own group
    proportions (None: as shipped), with dotted overrides ``set``."""

    ref: str
    agents: int | None = None
    set: tuple[tuple[str, Any], ...] = ()


#: The runs that reach every kernel: each shipped scenario as shipped, and larger or changed
#: where that picks another loop (negotiation settles in numba only from ~10^4 sides; an
#: ipd game of reciprocal agents with thresholds of their own plays the per-agent loop, as
#: trust-network's ipd variant in ``bench/`` does; a second group of learners makes the trust
#: game step, the only way to the learners' own kernels, ``fp_kernel``, ``q_kernel`` and
#: ``moves_kernel``, as the bench's learners and every stepped learning run take; a bound
#: minority on a small board at a high temptation reaches a new type and fixation inside
#: spatial-pd's loop; newcomers leave pair rows off the edges, which the ipd plays row by
#: row). Ordered by compile time, longest first, so that the pool's last tasks are short
#: ones. ``tools/compile_cost.py`` lists what a run compiles: after warming, the bench's runs
#: at 10^3 and 10^4 agents compile nothing, stepped or fused.
RUNS: tuple[Warmup, ...] = (
    Warmup("trust-game"),
    Warmup("trust-game-learning"),
    Warmup("commons-newcomer"),
    Warmup("commons"),
    Warmup("public-goods"),
    Warmup("injection"),
    Warmup("ipd-q-learning"),
    Warmup("trust-game-learning", None, (("groups.reciprocal.policy", "q_learning"),
                                         ("groups.reciprocal.params", {"observe": "partner_last", "gamma": 0.9}),
                                         ("steps", 3))),
    Warmup("spatial-pd"),
    Warmup("ipd-classic"),
    Warmup("trust-network", 1000, (("scenario.environment", "ipd"), ("groups.reciprocal.policy", "reciprocal"),
                                   ("groups.reciprocal.params", {"threshold": 0.5}),
                                   ("environment.detect_prob", 1.0), ("steps", 5))),
    Warmup("public-goods-fg"),
    Warmup("tooth-fairy"),
    Warmup("trust-network"),
    Warmup("negotiation-honest-first", 200, (("steps", 2),)),
    Warmup("moran-ipd"),
    Warmup("negotiation-confidential-first"),
    Warmup("spec-evolution"),
    Warmup("spec-incident"),
    Warmup("spatial-pd", None, (("groups.cooperators.count", 60), ("groups.defectors.count", 15),
                                ("groups.bound.count", 25), ("environment.T", 2.1), ("steps", 40))),
    Warmup("ipd-classic", None, (("events", [{"at": 2, "type": "join", "group": "tit_for_tat", "count": 2}]),
                                 ("steps", 4))),
)
#: Shipped scenarios left out, and why.
LEFT_OUT = {"llm-negotiation": "its sellers are language models (a server); its kernels are the negotiation ones"}
#: The file a finished warming leaves in the keyed cache directory: what compiled there
#: (numba's and Python's versions; numba treats another's machine code as absent).
MARK = "warmed"


@dataclass(frozen=True)
class Warmed:
    """What a call did: the cache directory; ``status`` "compiled", "warm" (the mark was
    there) or "no numba" (nothing to compile); the runs made; the wall seconds; the other
    sources' directories removed."""

    path: Path
    status: str
    ran: tuple[str, ...]
    seconds: float
    pruned: tuple[Path, ...]


def overrides(run: Warmup) -> dict[str, Any]:
    """The run's overrides: its groups scaled to about ``run.agents`` agents, then ``run.set``."""
    out: dict[str, Any] = {}
    if run.agents is not None:
        from sim.scenario import load_scenario

        present = [g for g in load_scenario(run.ref).groups if g.count > 0]
        total = sum(g.count for g in present)
        out = {f"groups.{g.name}.count": max(1, round(run.agents * g.count / total)) for g in present}
    return {**out, **dict(run.set)}


def _compile(run: Warmup) -> str:
    """Play ``run`` with numba loaded, so that every compiled stretch it can take is compiled.

    Three times, seeds 0 to 2, as a sweep's worker or the bench plays a scenario again: from
    the third build of a loaded scenario on a model is copied from a kept template, and a
    deterministic stretch replays from read-only rows, another type for the summaries' kernels
    (``kernel_sums``, ``summary_kernel.fill``) to compile for."""
    import numba  # noqa: F401  (first: environments choose a kernel whenever numba is loaded)

    from sim.runs.run import run_model

    for seed in range(3):
        run_model(run.ref, seed=seed, set=overrides(run) or None, check_llm=False)
    return run.ref


def compiler() -> str | None:
    """numba's and Python's versions, what machine code in the cache was compiled by; None
    where numba is not installed (runs then step; there is nothing to compile)."""
    try:
        numba = version("numba")
    except PackageNotFoundError:
        return None
    return f"numba {numba}, python {sys.version.split()[0]}\n"


def warm(workers: int | None = None, force: bool = False, prune: bool = True) -> Warmed:
    """Compile every kernel into this checkout's cache unless it is marked warm already.

    ``workers``: processes (default: one per core, at most one per run); ``force``: run even
    when marked; ``prune``: remove other sources' cache directories left untouched for an hour.
    """
    start = time.perf_counter()
    path = cache_dir()
    pruned = tuple(stale(path, time.time())) if prune else ()
    for old in pruned:
        shutil.rmtree(old, ignore_errors=True)
    stamp = compiler()
    if stamp is None:
        return Warmed(path, "no numba", (), time.perf_counter() - start, pruned)
    if not force and (path / MARK).is_file() and (path / MARK).read_text() == stamp:
        return Warmed(path, "warm", (), time.perf_counter() - start, pruned)
    from sim.runs.pool import context

    count = max(1, min(workers or os.cpu_count() or 1, len(RUNS)))
    with ProcessPoolExecutor(max_workers=count, mp_context=context()) as pool:
        ran = tuple(pool.map(_compile, RUNS))
    path.mkdir(parents=True, exist_ok=True)
    (path / MARK).write_text(stamp)
    return Warmed(path, "compiled", ran, time.perf_counter() - start, pruned)
