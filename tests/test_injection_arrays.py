"""Injection's orders as arrays (rule-based runs) against the same runs with a ``Message`` per order.

Differential: each case runs the scenario twice, once through ``Injection._step_arrays`` and
once with it swapped for ``_step_messages`` (the path a language model's run takes), and
compares everything a run reports (``tests.test_fused._same``: series, final metrics,
payoffs, pair memory, ledger rows, the stored result) plus the receivers' beliefs in the
order heard and the pair table's layout. Each case asserts which path ran.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agents.messages import TOOL
from scenarios.injection import (
    DATA,
    INVOICE,
    MESSAGE,
    OVERREACH,
    Injection,
    InjectionParams,
    compose,
)
from sim.runs.run import run_model
from tests.test_fused import _same

#: Every channel at once: invoices and overreaches from the delegate, more attackers.
BUSY = {"environment.invoice_prob": 0.5, "environment.overreach_prob": 0.3, "groups.attackers.count": 6}


def _run(arrays: bool, monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any]) -> tuple[Any, dict[str, int]]:
    calls = {"arrays": 0, "messages": 0}
    real_arrays, real_messages = Injection._step_arrays, Injection._step_messages

    def by_arrays(self: Injection, *args: Any) -> None:
        calls["arrays"] += 1
        real_arrays(self, *args)

    def by_messages(self: Injection, *args: Any) -> None:
        calls["messages"] += 1
        real_messages(self, *args)

    monkeypatch.setattr(Injection, "_step_arrays", by_arrays if arrays else by_messages)
    monkeypatch.setattr(Injection, "_step_messages", by_messages)
    # Steps, not the compiled stretch (tests/test_injection_kernel.py), wherever numba is loaded.
    monkeypatch.setattr(Injection, "_compiled", lambda self, model, limit: False)
    model = run_model("injection", seed=seed, set=overrides)
    monkeypatch.setattr(Injection, "_step_arrays", real_arrays)
    monkeypatch.setattr(Injection, "_step_messages", real_messages)
    return model, calls


@pytest.mark.parametrize(("overrides", "seed"), [
    ({"steps": 12}, 0),
    ({"steps": 16, "environment.verify_prob": 0.9}, 3),
    ({**BUSY, "steps": 14}, 5),
    ({**BUSY, "steps": 20, "environment.verify_prob": 1.0, "environment.data_share": 0.2}, 7),
    # More workers, a denser graph (a worker reached by several attackers), no verification.
    ({"steps": 8, "groups.workers.count": 60, "groups.gullible.count": 40, "network.degree": 8,
      "environment.verify_prob": 0.0}, 11),
    # Shocks mid-run: the invoice, verification and the attack change; a delegation at step 4.
    ({**BUSY, "steps": 12, "events": [
        {"at": 4, "type": "delegate", "source": "user", "delegate": "treasurer", "level": "user", "scope": ["pay"]},
        {"at": 6, "type": "shock", "set": {"invoice": 2.0, "verify_prob": 0.2, "data_share": 0.9}}]}, 9),
    # No delegate at all: its channels stay closed.
    ({"steps": 10, "groups.treasurer.count": 0, "events": []}, 2),
])
def test_orders_as_arrays_equal_orders_as_messages(overrides: dict[str, Any], seed: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    slow, by_messages = _run(False, monkeypatch, seed, overrides)
    fast, by_arrays = _run(True, monkeypatch, seed, overrides)
    assert by_messages["arrays"] == 0 and by_messages["messages"] == slow.steps
    assert by_arrays["messages"] == 0 and by_arrays["arrays"] == fast.steps
    _same(slow, fast)
    assert list(slow.env.beliefs.credence.items()) == list(fast.env.beliefs.credence.items())
    assert list(slow.env.beliefs.truth.items()) == list(fast.env.beliefs.truth.items())
    assert slow.env.beliefs.credence  # something was heard
    for a, b in zip(slow.pairs.pairs(), fast.pairs.pairs(), strict=True):
        np.testing.assert_array_equal(a, b)
    kinds = {r["kind"] for r in fast.conflict_rows()}
    assert "injection_ignored" in kinds


@pytest.mark.parametrize("channel", [MESSAGE, DATA, INVOICE, OVERREACH])
def test_every_order_names_its_sender_as_target(channel: int) -> None:
    # The array path pays a transfer or an invoice to the sender without composing the message.
    msg = compose(channel, 17, "attackers", 3, 0, InjectionParams())
    assert msg.orders()[0].value == 17
    assert (msg.sender == -1) is (msg.source == TOOL)


@pytest.mark.parametrize("seed", [1, 4])
def test_kept_worker_pairs_equal_pairs_looked_up_each_step(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rewiring cuts ties and lays the pair table out anew (align): the kept rows must follow.
    overrides = {"steps": 16, "network.rewire": {"every": 3, "below": 0.45}}
    kept = run_model("injection", seed=seed, set=overrides)
    real = Injection._worker_pairs

    def fresh(self: Injection, model: Any, workers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._pairs_of_workers = None
        return real(self, model, workers)

    monkeypatch.setattr(Injection, "_worker_pairs", fresh)
    looked_up = run_model("injection", seed=seed, set=overrides)
    assert kept.pairs.moved > 0 and np.nansum(kept.series["rewired"]) > 0
    _same(kept, looked_up)

