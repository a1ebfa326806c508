"""The negotiation step's fast path reports what the plain numpy step reported, bit for bit.

``tests/data/negotiation_digests.json`` holds digests of everything a run
reports (every series, final metrics, payoffs, truth records, pair evidence,
conflict and script rows, each agent's learned risk) taken from the step as
it was before its hot path was reworked (cached matches, compiled settling).
Cases cover both orderings, learning off, a parameter shock and a join, a
sparse graph, spec evolution and an incident patch. Goldens pin final metrics
only; these pin the whole run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scenarios import negotiation
from sim.model import SpecModel
from sim.scenario import load_scenario_text

DIGESTS = json.loads((Path(__file__).parent / "data" / "negotiation_digests.json").read_text())
ROOT = Path(__file__).parent.parent
SHOCK_AND_JOIN = ('\n[[events]]\nat = 4\ntype = "shock"\nset = { detect_prob = 0.9, ask_prob = 0.3 }\n'
                  '\n[[events]]\nat = 7\ntype = "join"\ngroup = "sellers"\ncount = 6\n')
CASES: list[tuple[str, dict[str, Any], str, int]] = [
    ("negotiation-honest-first", {"groups.buyers.count": 20, "groups.sellers.count": 20, "steps": 12}, "", 0),
    ("negotiation-honest-first", {"groups.buyers.count": 60, "groups.sellers.count": 40, "steps": 6}, "", 1),
    ("negotiation-confidential-first", {"groups.buyers.count": 30, "groups.sellers.count": 30, "steps": 10}, "", 2),
    ("negotiation-confidential-first", {"groups.buyers.count": 30, "groups.sellers.count": 30, "steps": 10,
                                        "environment.learn_risk": False}, "", 3),
    ("negotiation-honest-first", {"groups.buyers.count": 25, "groups.sellers.count": 25, "steps": 12},
     SHOCK_AND_JOIN, 4),
    ("negotiation-honest-first", {"groups.buyers.count": 300, "groups.sellers.count": 300, "steps": 4,
                                  "network.kind": "random_regular", "network.degree": 10}, "", 5),
    ("spec-evolution", {"steps": 12}, "", 6),
    ("spec-incident", {"steps": 20, "environment.detect_prob": 0.2}, "", 7),
]


def _h(a: Any) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes()).hexdigest()[:16]


def _text(a: Any) -> str:
    return hashlib.sha256(repr(a).encode()).hexdigest()[:16]


def digest(model: SpecModel) -> dict[str, Any]:
    """What a finished run reports, hashed (floats by their bits)."""
    return {"series": {k: _h(v) for k, v in sorted(model.series.items())},
            "final": {k: float(v).hex() for k, v in sorted(model.final_metrics().items())},
            "payoff": _h(model.payoff), "truth": _h(np.concatenate([model.truth_kept, model.truth_total])),
            "pairs": {c: _h(model.pairs[c]) for c in ("kept", "broken")},
            "conflicts": _text(model.conflict_rows()), "script": _text(model.script_rows()),
            "told": _h(np.concatenate([model.env.told, model.env.caught])), "steps": model.steps}


def run_case(ref: str, overrides: dict[str, Any], extra: str, seed: int) -> SpecModel:
    text = (ROOT / "scenarios" / f"{ref}.toml").read_text() + extra
    model = SpecModel(load_scenario_text(text, overrides=overrides, source=ref), seed=seed)
    model.run()
    return model


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
@pytest.mark.parametrize(("ref", "overrides", "extra", "seed"), CASES, ids=[f"{c[0]}:{c[3]}" for c in CASES])
def test_a_run_reports_what_the_numpy_step_reported(ref: str, overrides: dict[str, Any], extra: str, seed: int,
                                                     compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Compiled: every step settles in the kernel (small steps stay in numpy by default).
    monkeypatch.setattr(negotiation, "KERNEL_MIN_SIDES", 0 if compiled else 1 << 62)
    assert digest(run_case(ref, overrides, extra, seed)) == DIGESTS[f"{ref}:{seed}"]


def test_large_steps_settle_in_the_compiled_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = negotiation.Negotiation._settle_compiled

    def spy(self: Any, kernel: Any, model: Any, mt: Any, *rest: Any) -> Any:
        calls.append(mt.m)
        return real(self, kernel, model, mt, *rest)

    monkeypatch.setattr(negotiation.Negotiation, "_settle_compiled", spy)
    ref, overrides, extra, seed = CASES[0]
    run_case(ref, {**overrides, "groups.buyers.count": 100, "groups.sellers.count": 100, "steps": 2}, extra, seed)
    assert calls == [10_000, 10_000]


def test_compiled_settling_leaves_every_pair_column_as_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The digest hashes kept and broken; the moves (last, last2, defected, good, turns) too here.
    ref, overrides, extra, seed = CASES[5]
    cols = {}
    for compiled in (False, True):
        monkeypatch.setattr(negotiation, "KERNEL_MIN_SIDES", 0 if compiled else 1 << 62)
        model = run_case(ref, overrides, extra, seed)
        cols[compiled] = {c: np.array(model.pairs[c]) for c in model.pairs.cols}
    assert cols[False].keys() == cols[True].keys()
    for c in cols[False]:
        assert np.array_equal(cols[False][c], cols[True][c]), c


def test_the_digest_sees_a_changed_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the premise: one detection draw moved changes the digest.
    real = negotiation.rng_detect
    monkeypatch.setattr(negotiation, "rng_detect", lambda model, n: np.roll(real(model, n), 1))
    ref, overrides, extra, seed = CASES[0]
    assert digest(run_case(ref, overrides, extra, seed)) != DIGESTS[f"{ref}:{seed}"]


def test_a_join_gives_newcomers_their_own_learned_risk() -> None:
    ref, overrides, extra, seed = CASES[4]
    model = run_case(ref, overrides, extra, seed)
    assert len(model.env.told) == len(model.payoff) == 56


JOIN_AT_ONE = '\n[[events]]\nat = 1\ntype = "join"\ngroup = "sellers"\ncount = 6\n'


@pytest.mark.parametrize("extra", ["", JOIN_AT_ONE], ids=["quiet", "join-at-1"])
def test_first_step_pairs_made_at_build_change_nothing(extra: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ref, overrides, _, seed = CASES[5]
    built = SpecModel(load_scenario_text((ROOT / "scenarios" / f"{ref}.toml").read_text() + extra,
                                         overrides=overrides, source=ref), seed=seed)
    assert (len(built.pairs) > 0) == (extra == "")  # made at build only when no event comes first
    fused = digest(run_case(ref, overrides, extra, seed))
    monkeypatch.setattr(negotiation, "first_step_quiet", lambda model: False)
    assert fused == digest(run_case(ref, overrides, extra, seed))


def test_pairs_made_before_a_join_at_step_1_would_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guards the guard: rows laid out before the join are not the stepped run's rows.
    ref, overrides, _, seed = CASES[5]
    stepped = digest(run_case(ref, overrides, JOIN_AT_ONE, seed))
    monkeypatch.setattr(negotiation, "first_step_quiet", lambda model: True)
    assert digest(run_case(ref, overrides, JOIN_AT_ONE, seed))["pairs"] != stepped["pairs"]


def test_stable_ranking_numbers_are_those_of_a_stable_argsort() -> None:
    from agents.policies.ranking import ranking_numbers, stable_ranking_numbers

    rng = np.random.default_rng(5)
    for width in (1, 2, 4, 5):
        # Few distinct values (ties everywhere), signed zeros and infinities among them.
        minus = rng.choice(np.array([-np.inf, -1.0, -0.0, 0.0, 0.5, 1e9]), size=(3000, width))
        want, _ = ranking_numbers(np.argsort(minus, axis=1, kind="stable"), width)
        got, order = stable_ranking_numbers([minus[:, i] for i in range(width)], width)
        assert np.array_equal(got, want)
        assert order(int(got[7])) == tuple(np.argsort(minus[7], kind="stable").tolist())
