"""Metric: ``payoff_spread``, the gap between the best and the worst cumulative payoff."""

import numpy as np

from scenarios.metric_registry import StepView, metric


@metric("payoff_spread", label="payoff spread", unit="payoff, best minus worst agent", aggregate="last")
def payoff_spread(view: StepView) -> np.ndarray:
    """Best minus worst cumulative payoff, one value per step of the view."""
    return view.payoff.max(axis=1) - view.payoff.min(axis=1)
