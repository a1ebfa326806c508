"""A profile stretch's per-step metrics (``scenarios.ipd_agents.summary``) equal numpy's per agent.

The agent pass takes its sums per profile when every payoff is an integer and no sum can pass
2^53 (``_integral``): exact, so in any order the same float. These cases pin both ways against
numpy on the per-agent arrays (welfare, Gini, trust mean, calibration, group sums in agent
order), and that values which are not integers, or too large, are not summed per profile.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

from numba import njit

from scenarios import ipd_agents
from scenarios.kernel_sums import BLOCK
from scenarios.pairwise_tree import EXACT, leaves
from sim.metrics import gini


@njit(cache=True)
def _summary(ag, trust_now, gap_rows, group_sums):  # pragma: no cover - compiled
    return ipd_agents.summary(ag, trust_now, gap_rows, group_sums)


@njit(cache=True)
def _integral(ag, group_sums):  # pragma: no cover - compiled
    return ipd_agents._integral(ag, group_sums)


def _agents(rng: np.random.Generator, n: int, p: int, payoff: np.ndarray, step_pay: np.ndarray,
            groups: int = 3) -> ipd_agents.Agents:
    """Agents of ``p`` profiles (each held by one agent at least) over ``n`` agents, 4 rows each."""
    prof = rng.permutation(np.concatenate([np.arange(p), rng.integers(0, p, n - p)])).astype(np.uint16)
    members = np.bincount(prof, minlength=p).astype(np.int64)
    m, u, reps = 4 * n, 3 * p, 6
    code = rng.integers(0, u, m).astype(np.uint16)
    truth_total = rng.integers(1, 9, p).astype(float)
    truth_kept = np.floor(truth_total * rng.random(p))
    start = np.zeros(p + 1, np.int64)
    return ipd_agents.Agents(
        prof, members, start, np.zeros(0, np.int64), rng.integers(0, groups, p), code,
        rng.integers(0, reps, u), rng.integers(0, p, u), payoff.copy(), step_pay.copy(), truth_kept, truth_total,
        np.empty(p), np.empty(u), np.empty(u), np.zeros(p), np.empty(BLOCK), *leaves(n), *leaves(m))


def _numpy(ag: ipd_agents.Agents, trust_now: np.ndarray, groups: int) -> tuple[tuple[float, ...], np.ndarray]:
    """The step's metrics and group sums from per-agent and per-row arrays, as ``sim.metrics`` takes them."""
    prof = ag.prof.astype(np.int64)
    payoff, step_pay = ag.payoff[prof], ag.step_pay[prof]
    sums = np.zeros(groups)
    for a in range(len(prof)):  # in agent order, one add at a time
        sums[ag.group[prof[a]]] += payoff[a]
    trust = trust_now[ag.code_rep][ag.code]
    real = (ag.truth_kept / ag.truth_total)[ag.code_partner][ag.code]
    metrics = (float(step_pay.sum()), gini(payoff), float(trust.sum() / len(trust)),
               float(1.0 - np.abs(trust - real).sum() / len(trust)))
    return metrics, sums


def _spread(rng: np.random.Generator, size: int) -> np.ndarray:
    """Values over many orders of magnitude: another order of adding rounds otherwise."""
    return rng.random(size) * 10.0 ** rng.integers(-2, 9, size)


@pytest.mark.parametrize("integers", [True, False])
@pytest.mark.parametrize(("n", "p", "seed"), [(1, 1, 0), (200, 7, 1), (5000, 40, 2), (20_011, 150, 3)])
def test_profile_summary_is_numpys(integers, n, p, seed):
    rng = np.random.default_rng(seed)
    if integers:
        payoff, step_pay = rng.integers(-50, 10**6, p).astype(float), rng.integers(0, 21, p).astype(float)
    else:
        payoff, step_pay = _spread(rng, p) - 50.0, _spread(rng, p)
    ag = _agents(rng, n, p, payoff, step_pay)
    trust_now = rng.random(6)
    group_sums = np.zeros(3)
    assert _integral(ag, group_sums) == integers
    got = _summary(ag, trust_now, np.empty(len(ag.code)), group_sums)
    want, want_sums = _numpy(ag, trust_now, 3)
    assert got == want
    assert group_sums.tolist() == want_sums.tolist()


def test_summing_by_profile_would_differ_on_such_values():
    """The non-integer case above can fail: per-profile sums round otherwise than numpy's."""
    rng = np.random.default_rng(3)
    ag = _agents(rng, 20_011, 150, _spread(rng, 150), _spread(rng, 150))
    by_profile = 0.0
    for q in range(150):
        by_profile += float(ag.members[q]) * ag.step_pay[q]
    assert by_profile != ag.step_pay[ag.prof.astype(np.int64)].sum()


def test_integers_past_exact_are_not_summed_by_profile():
    rng = np.random.default_rng(4)
    p, n = 5, 1000
    big = np.full(p, float(2**44))
    ag = _agents(rng, n, p, np.zeros(p), np.zeros(p))
    assert _integral(ag, np.zeros(3))
    assert not _integral(ag, np.array([0.0, 0.5, 0.0]))  # a group sum not an integer
    assert _integral(ag, np.array([0.0, EXACT, 0.0]))  # 2^53 and zeros: exact
    ones = ag._replace(payoff=np.ones(p), value=np.ones(p))
    assert _integral(ones, np.array([0.0, EXACT - n, 0.0]))
    assert not _integral(ones, np.array([0.0, EXACT, 0.0]))  # 2^53 + 1000: not every sum is exact
    # 1000 agents of 2^44 each: 2^54 in all, past what float64 holds exactly.
    assert not _integral(ag._replace(payoff=big, value=big), np.zeros(3))
    assert not _integral(ag._replace(step_pay=big), np.zeros(3))
    half = np.full(p, float(2**42))  # 2^52 in all: exact
    assert _integral(ag._replace(payoff=half, value=half, step_pay=half), np.zeros(3))
    assert not _integral(ag._replace(payoff=np.full(p, np.inf)), np.zeros(3))
    assert not _integral(ag._replace(step_pay=np.full(p, np.nan)), np.zeros(3))
