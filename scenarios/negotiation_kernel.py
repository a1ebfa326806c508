"""The negotiation's settling in one compiled pass: prices, payoffs, evidence, learned risk.

Why: past its two decisions a negotiation step is some forty numpy passes over
the 2m sides of its m pairs (a complete graph of 10^3 agents has 500,000
pairs), each allocating a temporary; at that size they were most of the step.
:func:`settle` does the same arithmetic in one loop, operation for operation
in numpy's order (no fused multiply-adds: numba compiles without fastmath), so
every float is the one the numpy step computed (``tests/test_negotiation_kernel.py``
runs both). The decisions themselves still go through ``model.decide`` (the
spec and the chain of command); the draws are made by the caller, in the
stepping order, from the same generators.

Imported only by ``Negotiation.step`` on a step large enough to need it:
numba loads slowly.
"""

from __future__ import annotations

import numpy as np

from agents.jit import njit

#: Columns of the counts :func:`settle` returns.
COUNTS = ("deals", "refusals", "lies_caught", "lies", "evasions")


@njit(cache=True, nogil=True)
def settle(m, answer, asked, caught_u, covert_u, close, surplus, cost, agents, mine,
           leverage, detect_prob, lie_penalty, refuse_penalty, steer_cost, value_low,
           pull_of, detectable, refuses, closes, steers, covert_of, lie, evade,
           last, last2, defected, good, turns, kept, broken, told, caught,
           pay, honest, dealt, loss, counts):  # pragma: no cover - compiled
    """Settle one step's m pairs (sides k and k + m are the buyer and seller of pair k).

    Writes ``pay`` (2m: what ``model.add_payoff`` credits), ``honest`` (2m, for
    ``record_truth``), ``dealt`` (m: surplus of each deal made), ``loss`` (2m: what
    steering cost each side) and ``counts`` (``COUNTS``); updates the pair-table
    columns as ``PairTable.record_moves`` then ``observe`` would (rows of the observer)
    and each agent's deceptions told and caught (``np.add.at``'s order: side by side).
    """
    for c in range(5):
        counts[c] = 0
    for k in range(m):
        b, s = k, k + m
        ab, as_ = answer[b], answer[s]
        lcb = detectable[ab] > 0 and caught_u[b] < detect_prob
        lcs = detectable[as_] > 0 and caught_u[s] < detect_prob
        pb = 0.0 if lcb else pull_of[ab]
        ps = 0.0 if lcs else pull_of[as_]
        deal = closes[close[b]] and closes[close[s]] and surplus[k] > 0
        sh = min(max(0.5 + leverage * (ps - pb), 0.0), 1.0)
        own_b = surplus[k] * (1.0 - sh)
        own_s = surplus[k] * sh
        traded = cost[k] + own_s - value_low
        cut = steer_cost * traded
        d = 1.0 if deal else 0.0
        dealt[k] = surplus[k] * d
        if deal:
            counts[0] += 1
        for j in range(2):
            side, own, lied_caught = (b, own_b, lcb) if j == 0 else (s, own_s, lcs)
            a, cl = answer[side], close[side]
            steer = steers[cl] and deal
            cov = covert_of[cl]
            lost = (cut if (cov or cut <= own) else 0.0) * (1.0 if steer else 0.0)
            loss[side] = lost
            pay[side] = own * d - lost
            cov_caught = cov and steer and covert_u[side] < detect_prob
            refused = refuses[a] and asked[side]
            deceptive = detectable[a] > 0
            # What this side did is evidence in its partner's row about it.
            broken_by = (lie_penalty * detectable[a] * (1.0 if lied_caught else 0.0)
                         + refuse_penalty * (1.0 if refused else 0.0) + lie_penalty * (1.0 if cov_caught else 0.0))
            kept_by = 0.0 if (lied_caught or cov_caught) else 1.0 - refuse_penalty * (1.0 if refused else 0.0)
            row = mine[s if side == b else b]
            kept[row] += kept_by
            broken[row] += broken_by
            honest[side] = not (deceptive or cov)
            agent = agents[side]
            told[agent] += (1.0 if deceptive else 0.0) + (1.0 if (cov and steer) else 0.0)
            caught[agent] += (1.0 if lied_caught else 0.0) + (1.0 if cov_caught else 0.0)
            if refused:
                counts[1] += 1
            if lied_caught:
                counts[2] += 1
            if asked[side] and a == lie:
                counts[3] += 1
            if asked[side] and a == evade:
                counts[4] += 1
        for side in (b, s):
            row = mine[side]
            coop = np.int8(1) if closes[close[side]] else np.int8(0)
            last2[row] = last[row]
            last[row] = coop
            if coop == 0:
                defected[row] = np.int8(1) | defected[row]
            good[row] = np.int8(1) if deal else np.int8(0)
            turns[row] += 1


@njit(cache=True, nogil=True)
def observe(m, value_u, cost_u, low, high, span, buckets, kept, broken, mine, agents, risk, role_code,
            r_trust, r_stake, r_risk, cost, surplus, base):  # pragma: no cover - compiled
    """Reserves, surplus and each side's observation code but ``asked`` (``Negotiation._observe``).

    Writes ``cost`` and ``surplus`` (m) and ``base`` (2m: role, trust, stake and risk coded).
    """
    for k in range(m):
        value = low + span * value_u[k]
        cost[k] = low + span * cost_u[k]
        surplus[k] = max(value - cost[k], 0.0)
        for side in (k, k + m):
            # Each side sees its own reserve: a large stake when it leaves room to trade.
            own = (value - low) / span if side == k else (high - cost[k]) / span
            row = mine[side]
            trust = (kept[row] + 1.0) / (kept[row] + broken[row] + 2.0)
            bucket = np.int64(np.floor(trust * buckets + 1e-9))
            base[side] = (role_code[side] + bucket * r_trust + (r_stake if own > 0.5 else 0)
                          + risk[agents[side]] * r_risk)
