"""specbound's simulator: scenarios, the Mesa model, runs, sweeps and the store.

``sim.run(scenario, seed=..., set={...})`` runs one scenario and returns its
final metrics, the step series as a DataFrame and the events.
"""

from sim.runs.run import RunResult, run, run_model

__all__ = ["RunResult", "run", "run_model"]
