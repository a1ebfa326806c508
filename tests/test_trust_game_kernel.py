"""The trust-game fast-forward (``scenarios.trust_game_kernel``) against stepping.

Differential: each case runs a scenario with the compiled stretches and with every
step generic (``model.may_fast_forward = False``) and compares everything a run
reports (``tests.test_fused._same``: series, final metrics, payoffs, pair memory,
conflict and script events, Mesa's clock, the packaged result). Each case also
asserts that steps were really played by the kernel, so a kernel that never runs
cannot pass. Small populations, several seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents import hashing
from agents.acts import Act
from agents.checks import check
from agents.policies import TRUST_BUCKETS
from scenarios import trust_game_kernel
from scenarios.metric_registry import METRICS, Metric
from sim.model import SpecModel
from sim.scenario import load_scenario, load_scenario_text
from tests.test_fused import _same

SCENARIOS = Path(trust_game_kernel.__file__).parent
#: A population the kernel plays at every size; numba is loaded by this module's import.
SMALL = {"groups.reciprocal.count": 45, "groups.opportunists.count": 15, "steps": 40}


@check("test_trust_kernel_keeps")
def _keeps(obs: Any, act: Act) -> bool | None:
    """Keep everything (a rule that fights ``cooperates``, so decisions log conflicts)."""
    return None if act.cooperative is None else not act.cooperative


def _pair(scenario: Any, seed: int) -> tuple[SpecModel, SpecModel, int]:
    """The run stepped and fused, and how many steps the kernel played."""
    got = []
    played = [0]
    real = trust_game_kernel.fast_forward

    def counting(env: Any, model: Any, limit: int) -> Any:
        stretch = real(env, model, limit)
        played[0] += 0 if stretch is None else stretch.steps
        return stretch

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(trust_game_kernel, "fast_forward", counting)
        for fuse in (False, True):
            sc = load_scenario(scenario) if isinstance(scenario, (str, Path)) else scenario
            model = SpecModel(sc, seed)
            model.may_fast_forward = fuse
            model.run()
            got.append(model)
    return got[0], got[1], played[0]


def _with(overrides: dict[str, Any], ref: str = "trust-game") -> Any:
    return load_scenario(ref, overrides)


@pytest.mark.parametrize(("overrides", "seed"), [
    (SMALL, 0),
    (SMALL, 5),
    ({**SMALL, "groups.opportunists.spec": "platform"}, 1),
    ({**SMALL, "environment.promises": False}, 2),
    ({**SMALL, "environment.detect_prob": 0.35, "environment.lie_penalty": 0.6}, 3),
    ({**SMALL, "environment.detect_prob": 0.0, "environment.multiplier": 2.5, "environment.endowment": 7.0}, 4),
    # No rewiring: one stretch for the whole run.
    ({**SMALL, "network.rewire.below": 0.0, "steps": 30}, 6),
    ({**SMALL, "network.rewire.every": 3, "network.kind": "random_regular", "network.degree": 6}, 7),
    ({"groups.reciprocal.count": 300, "groups.opportunists.count": 100, "steps": 20}, 8),
])
def test_fused_equals_stepping(overrides: dict[str, Any], seed: int) -> None:
    slow, fast, played = _pair(_with(overrides), seed)
    assert played >= fast.steps // 2
    assert slow.final_metrics()["promises_made"] > 0 or not overrides.get("environment.promises", True)
    _same(slow, fast)


def _stretches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, bool]]:
    """Each stretch the kernel plays: (first step, steps, whether it counted cuts)."""
    seen: list[tuple[int, int, bool]] = []
    real = trust_game_kernel.fast_forward

    def spy(env: Any, model: Any, limit: int) -> Any:
        stretch = real(env, model, limit)
        if stretch is not None:
            seen.append((model.steps + 1, stretch.steps, "rewired" in stretch.counters))
        return stretch

    monkeypatch.setattr(trust_game_kernel, "fast_forward", spy)
    return seen


def test_rewiring_steps_are_folded_into_stretches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ties are cut in the run (so rewiring mattered), and stretches go on across rewiring steps:
    # far fewer stretches than rewiring steps, the cuts counted at their steps only (NaN, not
    # counted, elsewhere, as stepping leaves them), and the run is what stepping gives.
    seen = _stretches(monkeypatch)
    slow, fast, played = _pair(_with({**SMALL, "network.rewire.below": 0.45}), 2)
    assert slow.final_metrics()["rewired"] > 0
    assert played == fast.steps
    assert len(seen) < 4 and any(counted for _, _, counted in seen)
    cuts = np.array(fast.series["rewired"])
    assert np.isnan(cuts[np.arange(fast.steps) % 5 != 4]).all() and (cuts[4::5] > 0).any()
    _same(slow, fast)


def test_rewiring_that_drops_ties_changes_the_bounds_inside_a_stretch(monkeypatch: pytest.MonkeyPatch) -> None:
    # On a dense graph a cut tie often finds no new partner: the games per step, and so the
    # welfare bounds and efficiency, change inside a stretch (``Stretch.bounds``).
    seen = _stretches(monkeypatch)
    bounded = []
    real = trust_game_kernel._book_env

    def spy(env: Any, model: Any, rec: Any, tally: np.ndarray, edges: np.ndarray) -> None:
        real(env, model, rec, tally, edges)
        bounded.append(rec.bounds is not None)

    monkeypatch.setattr(trust_game_kernel, "_book_env", spy)
    dense = {"groups.reciprocal.count": 18, "groups.opportunists.count": 6, "steps": 30,
             "network.kind": "random_regular", "network.degree": 20, "network.rewire.below": 0.45,
             "network.rewire.every": 3}
    slow, fast, played = _pair(_with(dense), 3)
    assert played == fast.steps and len(seen) < 5
    assert len(fast.edges) < 24 * 20 // 2 and any(bounded)
    assert len(set(np.array(slow.series["efficiency"]).round(12).tolist())) > 1
    _same(slow, fast)


def test_with_per_agent_records_a_rewiring_step_ends_its_stretch(monkeypatch: pytest.MonkeyPatch) -> None:
    # A plugin metric needs per-pair records, whose width a new graph changes: the stretch ends
    # with the rewiring step (cut after it), the next starts on the new edges.
    def richest(view: Any) -> np.ndarray:
        return view.payoff.max(axis=1)

    seen = _stretches(monkeypatch)
    METRICS.add(Metric("test_trust_richest_rw", "richest", "payoff", step=richest))
    try:
        slow, fast, played = _pair(_with({**SMALL, "steps": 22, "network.rewire.below": 0.45}), 4)
    finally:
        METRICS.remove("test_trust_richest_rw")
    assert played == fast.steps
    assert [(first, steps) for first, steps, _ in seen] == [(1, 5), (6, 5), (11, 5), (16, 5), (21, 2)]
    _same(slow, fast)


def _text(events: str, spec_dirs: bool = False) -> str:
    text = (SCENARIOS / "trust-game.toml").read_text().split("[sweep]")[0]
    if spec_dirs:
        text = text.replace("[scenario]\n", '[scenario]\nspec_dirs = ["specs"]\n', 1)
    return text + events


def test_joins_and_shocks_split_stretches() -> None:
    events = """
[[events]]
at = 12
type = "join"
group = "opportunists"
count = 6

[[events]]
at = 23
type = "shock"
set = { multiplier = 4.0, detect_prob = 0.3 }
"""
    sc = load_scenario_text(_text(events), source="trust-kernel-case.toml")
    slow, fast, played = _pair(sc, 3)
    assert len(fast.payoff) == 46
    assert played > 20
    _same(slow, fast)


def _torn(tmp_path: Path) -> Path:
    """trust-game with reciprocal agents bound by a spec whose rules fight: cooperate (root)
    and keep everything (developer), so their decisions log conflicts."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "torn.toml").write_text(
        '[spec]\nid = "torn"\nversion = "1"\n\n'
        '[[principles]]\nid = "nice"\nlevel = "root"\ntext = "Cooperate."\ncheck = "cooperates"\n\n'
        '[[principles]]\nid = "tough"\nlevel = "developer"\ntext = "Keep it."\ncheck = "test_trust_kernel_keeps"\n')
    path = tmp_path / "torn.toml"
    path.write_text(_text("", spec_dirs=True).replace('spec = "platform"', 'spec = "torn"'))
    return path


def test_conflicts_are_logged_as_stepping_logs_them(tmp_path: Path) -> None:
    # The loop lists conflicts; the wrapper logs them one decide call at a time.
    path = _torn(tmp_path)
    slow, fast, played = _pair(path, 4)
    assert slow.final_metrics()["conflicts"] > 0
    assert played > 20
    _same(slow, fast)


def test_a_full_conflict_buffer_is_emptied_and_play_goes_on(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = _torn(tmp_path)
    monkeypatch.setattr(trust_game_kernel, "CONFLICT_ROWS", 400)  # a few steps' worth
    conflicts = []
    real = trust_game_kernel._log

    def counted(model: Any, conf: np.ndarray, rows: int) -> None:
        conflicts.append(rows)
        real(model, conf, rows)

    monkeypatch.setattr(trust_game_kernel, "_log", counted)
    slow, fast, played = _pair(path, 4)
    assert played > 20
    assert len([c for c in conflicts if c]) > played // 4  # emptied mid-stretch, not only at its end
    _same(slow, fast)


def test_a_plugin_metric_gets_full_records() -> None:
    # A per-step metric beyond the engine's may read any array: the loop then keeps records.
    def richest(view: Any) -> np.ndarray:
        return view.payoff.max(axis=1)

    METRICS.add(Metric("test_trust_richest", "richest", "payoff", step=richest))
    try:
        slow, fast, played = _pair(_with(SMALL), 1)
    finally:
        METRICS.remove("test_trust_richest")
    assert played > 0
    _same(slow, fast)


LEARNING = {"groups.learners.count": 40, "groups.reciprocal.count": 20, "groups.opportunists.count": 20,
            "steps": 25}


@pytest.mark.parametrize(("overrides", "seed"), [
    (LEARNING, 0),
    (LEARNING, 3),
    ({**LEARNING, "groups.opportunists.spec": "platform"}, 1),
    ({**LEARNING, "environment.promises": False}, 2),
    # More exploration, a prior that makes beliefs move fast, rewiring (stretches of one step).
    ({**LEARNING, "groups.learners.params": {"observe": "partner_last", "initial": 5.0, "epsilon": 0.4,
                                             "prior": 0.5},
      "network.rewire": {"every": 4, "below": 0.4}}, 4),
    # The learner's state made of two fields.
    ({**LEARNING, "groups.learners.params": {"observe": "partner_last,trust", "initial": 20.0}}, 5),
])
def test_fused_learners_equal_stepping(overrides: dict[str, Any], seed: int) -> None:
    # Fictitious play in the loop: choices drawn from the learners' own stream, the spec's
    # overrides (counted per principle and step), rewards and belief updates, as stepping does.
    slow, fast, played = _pair(_with(overrides, "trust-game-learning"), seed)
    assert played >= fast.steps // 2
    assert slow.final_metrics()["overrides"] > 0 or overrides.get("environment.promises") is False
    _same(slow, fast)
    assert slow.learning is not None and fast.learning is not None
    for a, b in zip(slow.learning.groups.values(), fast.learning.groups.values(), strict=True):
        assert sorted(a.state) == sorted(b.state)
        for phase, st in a.state.items():
            for name, arr in st.items():
                np.testing.assert_array_equal(arr, b.state[phase][name])
    assert slow.learning.rng.random() == fast.learning.rng.random()


def test_fused_learners_with_nan_values_equal_stepping() -> None:
    # An ``initial`` past float32's range (finite, so the loader takes it) is infinite in the
    # learners' state: every act's value is NaN, numpy's preferences NaN (0 / 0), and its draw
    # act 0. The loop shares ``fp_kernel``'s arithmetic, so it does the same (it once divided by
    # zero and raised).
    sc = _with({**LEARNING, "steps": 8, "groups.learners.params": {"observe": "partner_last", "initial": 1e39}},
               "trust-game-learning")
    with np.errstate(invalid="ignore", over="ignore"):
        slow, fast, played = _pair(sc, 0)
    assert played == fast.steps
    _same(slow, fast)
    assert slow.learning is not None and fast.learning is not None
    (a,), (b,) = slow.learning.groups.values(), fast.learning.groups.values()
    assert any(np.isnan(st["u"]).any() for st in a.state.values())
    for phase, st in a.state.items():
        for name, arr in st.items():
            np.testing.assert_array_equal(arr, b.state[phase][name])


def test_learners_of_another_kind_are_stepped() -> None:
    # Softmax choices (temperature > 0) are not mirrored: the kernel leaves such runs alone.
    sc = _with({**LEARNING, "steps": 8, "groups.learners.params": {"observe": "partner_last", "temperature": 0.5}},
               "trust-game-learning")
    slow, fast, played = _pair(sc, 0)
    assert played == 0
    _same(slow, fast)


def test_roles_drawn_ahead_are_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stretch that ends before the steps its roles were drawn for (here: cut after one step,
    # as a step with no room for its new outcomes cuts it) must leave rng_match where stepping
    # leaves it: the generic step and rewiring draw from it next.
    real = trust_game_kernel._PLAY  # the wrapper fast_forward calls (it holds the dispatcher)
    calls: list[int] = []

    def one_step(k0: int, k_max: int, *args: Any) -> int:
        calls.append(k0)
        return int(real(k0, min(k_max, k0 + 1), *args))  # stops with no reason: the stretch ends

    monkeypatch.setattr(trust_game_kernel, "_PLAY", one_step)
    slow, fast, played = _pair(_with(SMALL), 1)
    assert played > 5
    assert len(calls) >= played  # the cut took effect: one step a call
    _same(slow, fast)
    assert slow.rng_match.random() == fast.rng_match.random()


def test_a_second_run_starts_from_the_kept_table(monkeypatch: pytest.MonkeyPatch) -> None:
    # The table a fused run keeps (cells and the loop's key hash) starts the next run of the same
    # population: that run must be what stepping gives too.
    from sim.cell_memo import TABLES
    from sim.decisions import DecisionTable

    TABLES.clear()
    warmed = []
    real = DecisionTable.warm

    def spy(self: DecisionTable, sparse: bool = False) -> bool:
        warmed.append(real(self, sparse))
        return warmed[-1]

    monkeypatch.setattr(DecisionTable, "warm", spy)
    sc = _with({**SMALL, "steps": 24})
    first = SpecModel(sc, 11)
    first.run()
    assert warmed == [False]
    slow, fast, played = _pair(sc, 11)
    assert warmed[-1] is True
    assert fast.decisions.marks.get(trust_game_kernel.MARK) is not None
    assert played > 10
    _same(slow, fast)
    _same(first, fast)


@pytest.mark.parametrize("rows", [
    np.random.default_rng(0).random((6, 1000)) * 300,                        # every byte differs
    np.round(np.random.default_rng(1).random((7, 513)) * 40) / 2 - 3,       # ties, negatives
    np.array([[-0.0, 0.0, 1.0, -0.0, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0]]),    # signed zeros, one value
    np.array([[5e-324, 0.0, 1e300, np.inf, 7.0]]),                          # subnormal, huge, infinite
    np.random.default_rng(2).standard_normal((3, 2000)) * 1e10,
    np.zeros((3, 1)),
    np.zeros((2, 0)),
    np.array([[1.0, np.nan, 0.5], [0.0, 1.0, 2.0]]),                        # a NaN: numpy's sort
])
def test_gini_rows_equals_gini_chunk(rows: np.ndarray) -> None:
    from scenarios.kernel_sums import gini_chunk

    want, got = np.empty(len(rows)), np.empty(len(rows))
    gini_chunk(rows.copy(), np.empty(len(rows)), want)
    trust_game_kernel.gini_rows(rows.copy(), got)
    assert want.tobytes() == got.tobytes()


def test_dense_cells_are_the_hash_cells() -> None:
    # The loop's dense look-up (``Keys.dense``) holds, for each decider whose projected codes are
    # all filed, the hash's cell of every code, laid out by its read digits; the others have none.
    model = SpecModel(load_scenario(str(SCENARIOS / "trust-game.toml"), {"groups.reciprocal.count": 45,
                                                                         "groups.opportunists.count": 15}), seed=1)
    keys, codec = model.env.kernel_keys, model.env.codec
    card, radix = np.asarray(codec.card, np.int64), np.asarray(codec.radix, np.int64)
    start, dense = keys.dense(card, radix, int(codec.space))
    reads, nreads = keys.reads()
    assert (start >= 0).any() and (dense >= 0).all()
    assert ((start >= 0) <= keys.done).all()
    for d in np.flatnonzero(start >= 0).tolist():
        fields = reads[d, :nreads[d]]
        for idx, digits in enumerate(np.ndindex(*card[fields].tolist())):
            key = np.array([d * int(codec.space) + int(radix[fields] @ np.array(digits, np.int64))], np.int64)
            assert dense[start[d] + idx] == hashing.find(keys.keys, keys.cells, key)[0]
    version = keys.version
    keys.put(np.array([10**12], np.int64), np.array([0], np.int64))
    assert keys.version > version and keys.dense(card, radix, int(codec.space))[1] is not dense


def test_fast_slots_point_at_the_generic_dense_cells() -> None:
    # A slot (``fast_slots``) is the dense index the generic look-up reaches: its start, plus the
    # trust digit for a decider reading trust alone; -1 for deciders reading anything else, and
    # for those without dense cells.
    trust = trust_game_kernel.OBS_FIELDS.index("trust")
    reads = np.array([[trust, 0], [0, 0], [3, trust], [trust, 0], [trust, 0]], np.int64)
    nreads = np.array([1, 0, 2, 1, 1], np.int64)
    dstart = np.array([4, 30, 40, -1, 60], np.int64)
    offset = np.zeros(len(trust_game_kernel.OBS_FIELDS), np.int64)
    offset[trust] = 2
    dec = np.array([[0, 1, 2], [3, 4, 0]], np.int64)
    slots = trust_game_kernel.fast_slots(dec, reads, nreads, dstart, offset)
    assert slots.dtype == np.int64 and slots.shape == dec.shape
    assert slots.tolist() == [[2 * 6 + 1, 2 * 30, -1], [-1, 2 * 62 + 1, 2 * 6 + 1]]
    for bucket in range(5):
        # Decider 0 at bucket b: the generic digits are b + offset, from its start.
        assert (slots[0, 0] >> 1) + (slots[0, 0] & 1) * bucket == dstart[0] + bucket + offset[trust]
        assert (slots[0, 1] >> 1) + (slots[0, 1] & 1) * bucket == dstart[1]


@pytest.mark.parametrize("seed", range(4))
def test_trust_rows_with_a_tail_equal_trust_step(seed: int) -> None:
    # The loop's trust metrics (``_trust_rows``: rows from ``lo`` on given once by ``_tail``) are
    # ``kernel_sums.trust_step``'s, to the bit, wherever the aligned rows end; with unmet rows,
    # agents without a record, and no row met at all.
    from numba import njit

    from scenarios.kernel_sums import trust_step

    rows_fn = njit(lambda *a: trust_game_kernel._trust_rows(*a))
    tail_fn = njit(lambda *a: trust_game_kernel._tail(*a))
    rng = np.random.default_rng(seed)
    n, rows = 50, 900
    kept = rng.integers(0, 6, rows) * 1.0
    broken = rng.integers(0, 6, rows) + rng.random(rows) * (seed % 2)
    turns = rng.integers(0, 3, rows) * (seed != 3)
    partner = rng.integers(0, n, rows)
    truth_total = rng.integers(0, 4, n) * 1.0
    truth_kept = np.minimum(truth_total, rng.integers(0, 4, n))
    want = trust_step(kept, broken, turns, partner, truth_kept, truth_total, np.empty(rows), np.empty(rows),
                      np.empty(n))
    for lo in (0, 1, 333, rows):
        tail_t, tail_p = np.empty(rows), np.empty(rows, np.int64)
        ntail = tail_fn(kept, broken, turns, partner, lo, tail_t, tail_p)
        bucket = np.full(rows, -7, np.int64)
        got = rows_fn(kept, broken, turns, partner, truth_kept, truth_total, np.empty(rows), np.empty(rows),
                      np.empty(n), lo, tail_t, tail_p, ntail, bucket)
        assert np.array(got).tobytes() == np.array(want).tobytes(), lo
        # The buckets the next step reads: ``TrustGame._observe``'s, of every row before ``lo``.
        want_bucket = np.floor((kept + 1.0) / (kept + broken + 2.0) * TRUST_BUCKETS + 1e-9).astype(np.int64)
        assert (bucket[:lo] == want_bucket[:lo]).all() and (bucket[lo:] == -7).all(), lo


def test_packed_cells_hold_cell_act_and_outcome() -> None:
    # ``pack``: a filed dense cell unpacks to itself, its act and its first outcome plus the act;
    # an unfiled one is -1; and when a value does not fit its bits, every entry is -1 (so the
    # loop looks each cell up the generic way).
    dense = np.array([3, -1, 0, 2], np.int64)
    full = np.array([1, 0, 4, 2], np.int32)
    base = np.array([10, 20, 30, 40], np.int64)
    packed = trust_game_kernel.pack(dense, full, base)
    assert packed.dtype == np.int64 and packed[1] == -1
    for x in (0, 2, 3):
        cell = int(dense[x])
        assert packed[x] & 0xFFFFFF == cell
        assert (packed[x] >> 24) & 0xFF == full[cell]
        assert packed[x] >> 32 == base[cell] + full[cell]
    assert (trust_game_kernel.pack(dense, np.array([1, 0, 300, 2], np.int32), base) == -1).all()
    assert (trust_game_kernel.pack(dense, full, np.array([10, 20, 30, 1 << 40], np.int64)) == -1).all()
    assert len(trust_game_kernel.pack(np.zeros(0, np.int64), full, base)) == 0
