"""specbound's simulator: scenarios, the Mesa model, runs, sweeps and the store.

``sim.run(scenario, seed=..., set={...})`` runs one scenario and returns its
final metrics, the step series as a DataFrame and the events.

The engine is imported on first use of these names, not with the package:
``sim.runs.pool`` must be importable in a few milliseconds, so that a sweep
command starts its worker pool before the driver itself loads the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import agents  # noqa: F401  (first: pins numpy's CPU dispatch before numpy loads)

if TYPE_CHECKING:
    from sim.runs.run import RunResult, run, run_model

__all__ = ["RunResult", "run", "run_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sim.runs import run as runs

        return getattr(runs, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
