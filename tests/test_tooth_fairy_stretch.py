"""Tooth-fairy stretches (played across their steps in numpy, booked at once) against stepping.

Differential: each case runs the scenario with fast-forwarding allowed and not and compares
everything a run reports (``tests.test_fused._same``: series, final metrics, payoffs, pair
memory, ledger and script rows, the stored result), plus the reactions each agent has seen,
the pair table's layout and the generators' states. Each case asserts steps were really
played as stretches; events (shocks, joins, departures, a copied spec) split them or step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scenarios import stepped_stretch, tooth_fairy_stretch
from scenarios.tooth_fairy import ToothFairy
from sim.model import SpecModel
from sim.runs.run import run_model
from sim.scenario import load_scenario
from tests.test_fused import _same

BIG = {"groups.careful.count": 120, "groups.unbound.count": 80, "network.degree": 6}


def _run(fuse: bool, monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any],
         compiled: bool = True) -> tuple[Any, int, int]:
    real = SpecModel.__init__

    def build(self: SpecModel, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        self.may_fast_forward = fuse

    played, stepped = [0], [0]
    play, step_play = tooth_fairy_stretch.play, stepped_stretch.play

    def counted(env: Any, model: Any, k: int) -> Any:
        rec = play(env, model, k)
        played[0] += rec.steps if rec is not None else 0
        return rec

    def counted_steps(model: Any, k: int, step: Any, **kw: Any) -> Any:
        stepped[0] += k
        return step_play(model, k, step, **kw)

    with monkeypatch.context() as m:
        m.setattr(SpecModel, "__init__", build)
        m.setattr(tooth_fairy_stretch, "play", counted)
        m.setattr(stepped_stretch, "play", counted_steps)
        m.setattr(tooth_fairy_stretch, "_compiled", lambda model, work: compiled and model.summarisable)
        return run_model("tooth-fairy", seed=seed, set=overrides), played[0], stepped[0]


def _compare(monkeypatch: pytest.MonkeyPatch, seed: int, overrides: dict[str, Any],
             compiled: bool = True) -> tuple[Any, Any, int, int]:
    slow, none, no_steps = _run(False, monkeypatch, seed, overrides)
    fast, played, stepped = _run(True, monkeypatch, seed, overrides, compiled)
    assert none == 0 and no_steps == 0
    _same(slow, fast)
    for a, b in zip(slow.pairs.pairs(), fast.pairs.pairs(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(slow.env.revealed, fast.env.revealed)
    np.testing.assert_array_equal(slow.env.children, fast.env.children)
    assert slow.env.bounds == fast.env.bounds
    for rng in ("rng_env", "rng_detect", "rng_match", "rng_decide"):
        assert getattr(slow, rng).bit_generator.state == getattr(fast, rng).bit_generator.state, rng
    return slow, fast, played, stepped


SHOCK = {"at": 5, "type": "shock", "set": {"child_share": 0.8, "press_prob": 0.9, "detect_prob": 0.6}}


@pytest.mark.parametrize(("overrides", "seed"), [
    ({"steps": 12}, 0),
    ({"steps": 9, "environment.child_share": 0.7, "environment.prior": 0.9}, 3),
    ({**BIG, "steps": 7}, 5),
    ({"steps": 12, "events": [SHOCK]}, 9),
    ({**BIG, "steps": 10, "environment.reveal_prob": 0.0, "events": [SHOCK]}, 1),
    # Newcomers between stretches; a departure: the rest is stepped back to back.
    ({"steps": 12, "events": [{"at": 6, "type": "join", "group": "careful", "count": 3}]}, 4),
    ({"steps": 12, "events": [{"at": 5, "type": "leave", "to": "unbound", "count": 2}]}, 6),
])
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_tooth_fairy_stretches_equal_steps(overrides: dict[str, Any], seed: int, compiled: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    slow, fast, played, stepped = _compare(monkeypatch, seed, overrides, compiled)
    assert played + stepped >= fast.steps // 2 and played >= 4
    assert slow.series["efficiency"] and len(set(slow.series["efficiency"])) > 1  # bounds vary per step


def test_deliberation_steps_back_to_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A decision that draws (deliberation) is not the table's alone: steps back to back, the same."""
    over = {"steps": 8, "groups.careful.deliberation": 0.5}
    model = SpecModel(load_scenario("tooth-fairy", over), seed=0)
    assert tooth_fairy_stretch.unplayable(model.env, model, ToothFairy) is not None
    _, _, played, stepped = _compare(monkeypatch, 2, over)
    assert played == 0 and stepped >= 4


def test_per_step_bounds_matter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counterfactual: booking a stretch against its last step's bounds changes efficiency, so the
    comparison above would catch a stretch that dropped ``Stretch.bounds``."""
    slow, _, _ = _run(False, monkeypatch, 0, {"steps": 8})
    play = tooth_fairy_stretch.play

    def without(env: Any, model: Any, k: int) -> Any:
        rec = play(env, model, k)
        rec.bounds = None
        return rec

    monkeypatch.setattr(tooth_fairy_stretch, "play", without)
    fast = run_model("tooth-fairy", seed=0, set={"steps": 8})
    assert slow.series["welfare"] == fast.series["welfare"]
    assert slow.series["efficiency"] != fast.series["efficiency"]


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_cells_from_the_compiled_look_up(warm: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold table (keys missed: the chain of command gives them step by step) and a table an
    earlier run kept (every cell read in the first pass, ``cells_of`` never asked): both equal
    to stepping."""
    from scenarios import tooth_fairy_kernel
    from sim.cell_memo import TABLES

    over = {"steps": 9, "environment.child_share": 0.6}
    asked = [0]
    real = tooth_fairy_kernel.cells_of

    def counted(*args: Any) -> Any:
        asked[0] += 1
        return real(*args)

    monkeypatch.setattr(tooth_fairy_kernel, "cells_of", counted)
    TABLES.clear()
    if warm:
        _run(True, monkeypatch, 7, over)  # keeps the population's table, every key of seed 7 in it
    asked[0] = 0
    fast, played, _ = _run(True, monkeypatch, 7, over)
    assert played >= 4 and (asked[0] == 0) == warm
    TABLES.clear()
    slow, _, _ = _run(False, monkeypatch, 7, over)
    _same(slow, fast)
    for a, b in zip(slow.pairs.pairs(), fast.pairs.pairs(), strict=True):
        np.testing.assert_array_equal(a, b)
    for rng in ("rng_env", "rng_detect"):
        assert getattr(slow, rng).bit_generator.state == getattr(fast, rng).bit_generator.state, rng
