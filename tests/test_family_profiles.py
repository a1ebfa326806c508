"""Ranking profiles (``sim.family_profiles``) find a family's cells unranked and change no result.

The negotiation at 10^4 agents has too many drawn deciders for a dense table; forcing
every table sparse here (``DENSE_TABLE_LIMIT``) puts small runs on that path, where the
model also starts from the families' table an earlier run of the process kept. Each run
must report what ``tests/data/negotiation_digests.json`` pins (taken before profiles).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from scenarios import negotiation
from sim import cell_memo, decisions
from sim.family_profiles import ranked_fields
from sim.model import SpecModel
from sim.scenario import load_scenario_text
from tests.test_negotiation_kernel import CASES, DIGESTS, ROOT, digest, run_case

# A sparse graph, a shock and a join (new deciders), spec evolution, an incident patch.
PICKED = [CASES[k] for k in (0, 4, 5, 6, 7)]


@pytest.fixture
def sparse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decisions, "DENSE_TABLE_LIMIT", 1)
    monkeypatch.setattr(decisions, "TABLES", cell_memo.TableMemo())  # no table from other tests
    monkeypatch.setattr(negotiation, "KERNEL_MIN_SIDES", 0)


@pytest.mark.usefixtures("sparse")
@pytest.mark.parametrize(("ref", "overrides", "extra", "seed"), PICKED, ids=[f"{c[0]}:{c[3]}" for c in PICKED])
def test_profiled_runs_report_what_the_ranked_step_reported(ref: str, overrides: dict[str, Any], extra: str,
                                                             seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    ranked: list[int] = []
    real = decisions._Families._ranked
    monkeypatch.setattr(decisions._Families, "_ranked", lambda self, *a: ranked.append(1) or real(self, *a))
    cold = run_case(ref, overrides, extra, seed)
    assert not ranked  # deciders an event adds are profiled too
    assert cold.decisions._families.profiles, "the run did not use profiles"
    assert digest(cold) == DIGESTS[f"{ref}:{seed}"]
    # Again, from the table the first run kept.
    assert digest(run_case(ref, overrides, extra, seed)) == DIGESTS[f"{ref}:{seed}"]


@pytest.mark.usefixtures("sparse")
@pytest.mark.parametrize("profiled", [True, False])
def test_profiled_steps_rank_no_key_and_a_warm_run_makes_no_cell(profiled: bool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if not profiled:  # the counterfactual: without profiles every step ranks its keys
        monkeypatch.setattr(decisions.DecisionTable, "prepare_profiles", lambda self: None)
    ranked: list[int] = []
    real = decisions._Families._ranked

    def spy(self: Any, table: Any, f: int, phase: int, deciders: np.ndarray, codes: np.ndarray) -> np.ndarray:
        ranked.append(len(codes))
        return real(self, table, f, phase, deciders, codes)

    monkeypatch.setattr(decisions._Families, "_ranked", spy)
    ref, overrides, extra, seed = CASES[5]
    text = (ROOT / "scenarios" / f"{ref}.toml").read_text() + extra
    # Built before the first run keeps its table (as a bench's timed model is): warmed at its first step.
    late = SpecModel(load_scenario_text(text, overrides=overrides, source=ref), seed=seed)
    run_case(ref, overrides, extra, seed)
    filed: list[int] = []
    real_filed = decisions._Families.filed

    def spy_filed(self: Any, table: Any, f: int, deciders: np.ndarray, *rest: Any) -> np.ndarray:
        filed.append(len(deciders))
        return real_filed(self, table, f, deciders, *rest)

    monkeypatch.setattr(decisions._Families, "filed", spy_filed)
    late.run()
    assert digest(late) == DIGESTS[f"{ref}:{seed}"]
    if profiled:
        assert ranked == []
        assert filed == []  # every cell was found in the kept table's filings
    else:
        assert ranked
        assert filed


def test_weighs_risk_ranks_on_stake_and_risk_and_closes_on_trust_too() -> None:
    model = run_case(*CASES[0])
    fams = model.decisions._families
    got = {fam.acts.names()[0]: [model.decisions.codec.fields[i] for i in ranked_fields(fam, model.decisions.codec)]
           for fam in fams.families}
    assert got == {"disclose": ["stake", "risk"], "deal": ["trust", "stake", "risk"]}


@pytest.mark.usefixtures("sparse")
def test_a_profile_ranks_every_key_as_rank_batch_does() -> None:
    model = run_case(*CASES[5])
    table = model.decisions
    fams = table._families
    codec = table.codec
    rng = np.random.default_rng(3)
    for f, prof in fams.profiles.items():
        fam = fams.families[f]
        members = np.array(sorted(fam.row), dtype=np.int64)
        deciders = rng.choice(members, 5000)
        codes = rng.integers(0, codec.space, 5000)
        fields = {name: (codes // r) % c - off
                  for name, r, c, off in zip(codec.fields, codec.radix, codec.card, codec.offset, strict=True)}
        want, order = fam.cls.rank_batch(fam.params(deciders), fields, fam.acts)
        expected = [fam.ranking_id(w, order) for w in want.tolist()]
        got = prof.rids[prof.profile[deciders], prof.value_of(codes)]
        assert got.tolist() == expected
        assert len(prof.kinds) < len(members)  # profiles group deciders (the point of them)
