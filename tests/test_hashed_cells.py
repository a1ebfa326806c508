"""A sparse decision table's compiled mirror (``sim.hashed_cells``, ``agents.hashing``).

The mirror must hold what the dict holds, whatever happened to the dict (grown by look-ups,
replaced by a restored state and its copy), and runs that find their cells through it must
be the runs that find them through the dict alone: same cells, numbered in the same order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sim import decisions
from sim.cell_memo import MEMO, TABLES
from sim.hashed_cells import HashedCells
from sim.runs.run import run
from tests.same_runs import assert_same_result


def _ways(monkeypatch: pytest.MonkeyPatch, hashed: bool) -> None:
    from agents.kernel_loader import optional_module

    monkeypatch.setattr(decisions, "DENSE_TABLE_LIMIT", 0)  # every table sparse: the dict's path
    monkeypatch.setattr(decisions, "worth_loading",
                        (lambda name, work, min_work=0: optional_module(name)) if hashed
                        else (lambda name, work, min_work=0: None))


def test_the_mirror_finds_what_the_dict_holds() -> None:
    kernel = pytest.importorskip("agents.hashing")
    rng = np.random.default_rng(0)
    source: dict[int, int] = {}
    mirror = HashedCells(kernel, source)
    for _ in range(30):  # grown past its room several times
        new = np.unique(rng.integers(0, 1 << 40, int(rng.integers(1, 60))))
        new = new[[k not in source for k in new.tolist()]]
        cells = rng.integers(0, 1000, len(new))
        source.update(zip(new.tolist(), cells.tolist(), strict=True))
        mirror = mirror.added(kernel, new, cells)
        assert mirror.mirrors(source)
        keys = np.concatenate([np.fromiter(source, np.int64, len(source)), rng.integers(0, 1 << 40, 50)])
        want = np.array([source.get(k, -1) for k in keys.tolist()], dtype=np.int64)
        assert np.array_equal(mirror.find(kernel, keys), want)
    assert len(source) > 500
    assert not mirror.mirrors(dict(source))  # another dict (a copy): mirrored afresh
    source[-5 & (1 << 41)] = 3
    assert not mirror.mirrors(source)  # grown behind the mirror's back: mirrored afresh


@pytest.mark.parametrize(("scenario", "overrides"), [
    ("ipd-classic", {}),
    ("trust-game", {}),  # its second run of seed 2 starts from the first one's kept table
    ("trust-network", {}),
    ("trust-game", {"groups.reciprocal.policy": "q_learning",
                    "groups.reciprocal.params": {"observe": "partner_last", "temperature": 1.0}}),
])
def test_runs_are_the_same_through_the_mirror(scenario: str, overrides: dict[str, Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numba")
    got = {}
    calls = [0]
    real = decisions.DecisionTable._hashed_cells

    def counted(*args: Any) -> Any:
        calls[0] += 1
        return real(*args)

    for hashed in (False, True):
        with monkeypatch.context() as m:
            _ways(m, hashed)
            m.setattr(decisions.DecisionTable, "_hashed_cells", counted)
            # Twice: the second run of a population may start from the first one's kept table
            # (a shared dict, copied before its first new cell); each way from no kept table.
            TABLES.clear()
            MEMO.clear()
            got[hashed] = [run(scenario, seed=seed, set={"steps": 25, **overrides}) for seed in (2, 2, 3)]
    assert calls[0] > 0
    for plain, mirrored in zip(got[False], got[True], strict=True):
        assert_same_result(plain, mirrored)


def test_put_counts_new_keys_and_refiles_known_ones() -> None:
    # ``put`` is also the trust game's key hash (``scenarios.trust_game_kernel.Keys``), which
    # files a key again with its cell and counts only new keys towards its load.
    hashing = pytest.importorskip("agents.hashing")
    for bits in (4, 7, 12):  # the shift follows the table's size
        keys = np.full(1 << bits, -1, np.int64)
        cells = np.zeros(1 << bits, np.int64)
        want: dict[int, int] = {}
        rng = np.random.default_rng(bits)
        for _ in range(3):
            new = rng.integers(0, 1 << 50, (1 << bits) // 6)
            new[:3] = list(want)[:3] or new[:3]  # some known keys again
            got = rng.integers(0, 99, len(new))
            before = len(want)
            want.update(zip(new.tolist(), got.tolist(), strict=True))
            assert hashing.put(keys, cells, new, got) == len(want) - before
        assert int((keys >= 0).sum()) == len(want)
        probe = np.concatenate([np.fromiter(want, np.int64), rng.integers(0, 1 << 50, 20)])
        expect = np.array([want.get(k, -1) for k in probe.tolist()], np.int64)
        assert np.array_equal(hashing.find(keys, cells, probe), expect)


# A run whose sparse tables look up 16,000 keys a call (trust-network at 4,000 agents), in a
# process of its own: numba is imported for the mirror only once the process's look-ups pass the
# budget, and the run's result is the same either way.
_BUDGET_PROBE = """
import json, sys
from sim import decisions
if sys.argv[1] == "low":
    decisions.HASHED_BUDGET = 1_000
from sim.hashed_cells import count_keys
from sim.runs.run import run
result = run("trust-network", seed=0, steps=2,
             set={"groups.reciprocal.count": 3200, "groups.opportunists.count": 800})
print(json.dumps({"numba": "numba" in sys.modules, "keys": count_keys(0), "metrics": result.metrics}))
"""


def _budget_probe(budget: str) -> dict[str, Any]:
    import json
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", _BUDGET_PROBE, budget], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parent.parent)
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def test_numba_is_imported_for_the_mirror_only_past_the_budget() -> None:
    pytest.importorskip("numba")
    default, low = _budget_probe("default"), _budget_probe("low")
    assert 1_000 < default["keys"] < decisions.HASHED_BUDGET  # the probe's look-ups sit between
    assert not default["numba"] and low["numba"]
    assert default["metrics"] == low["metrics"]
