"""Learners: policies whose preferences change with experience, one state per agent, in arrays.

A learner never overrides its spec. For each observation the chain of command
gives the *tier* of acts that best satisfy the compliance vector (the engine
memoises it per observation code, as every decision); the learner samples its
*favourite* from its own preference over all acts and plays it when it is in
the tier. Otherwise the spec overrides it (counted as ``overrides.<principle>``
for each principle the favourite breaks) and it samples again from its
preference restricted to the tier.

The interface (implemented by the classes below; the engine side is
``sim.learning``):

- ``init_state(agents, states, acts) -> dict[str, ndarray]``: the group's state,
  arrays with the agents of the group first;
- ``preferences(state, rows, s) -> ndarray (m, acts)``: choice probabilities of
  agent rows ``rows`` in learner states ``s``;
- ``learn(state, rows, s, acts, rewards)``: one update per decision, ``rewards``
  being the agent's payoff per decision in the step;
- ``summary(state) -> dict[str, float]``: what was learned, averaged over agents
  (``p.<act index>`` at least), for the run's final metrics.

A learner state is the observation seen through the fields named in
``observe`` (comma-separated, e.g. ``"partner_last"``; empty: one state, a
bandit). ``rank`` is unused (the tier is computed over all acts). Everything
is vectorised over the decisions of a step: no Python loop over agents.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from agents.acts import ActSpace
from agents.errors import SpecboundError
from agents.interfaces import RankingPolicy
from agents.kernel_loader import worth_loading
from agents.policies.base import policy
from agents.uniques import runs

State = dict[str, np.ndarray]


def column_max(cols: list[np.ndarray]) -> np.ndarray:
    """Row-wise maximum over a few act columns (column by column: few acts, many decisions)."""
    top = cols[0]
    for c in cols[1:]:
        top = np.maximum(top, c)
    return top


def softmax_columns(cols: list[np.ndarray], top: np.ndarray, temp: np.ndarray | float,
                    out: np.ndarray) -> np.ndarray:
    """Softmax of the act columns at temperature ``temp`` into ``out`` (rows x acts); ``top`` is their maximum."""
    z = [np.exp((c - top) / temp) for c in cols]
    total = z[0].copy()
    for v in z[1:]:
        total += v
    for a, v in enumerate(z):
        out[:, a] = v / total
    return out


class Learner(RankingPolicy):
    """Base class of learning policies (see the module docstring for the interface)."""

    learner: ClassVar[bool] = True
    params: ClassVar[dict[str, Any]] = {"observe": str}

    def __init__(self, observe: str = "", **params: Any) -> None:
        super().__init__(observe=observe, **params)
        self.observe = tuple(f.strip() for f in observe.split(",") if f.strip())

    def rank(self, obs: Any, acts: ActSpace) -> tuple[int, ...]:
        return tuple(range(len(acts)))

    def init_state(self, agents: int, states: int, acts: int) -> State:
        raise NotImplementedError

    def preferences(self, state: State, rows: np.ndarray, s: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def learn(self, state: State, rows: np.ndarray, s: np.ndarray, acts: np.ndarray,
              rewards: np.ndarray) -> None:
        raise NotImplementedError

    def summary(self, state: State) -> dict[str, float]:
        p = self.preferences(state, np.repeat(np.arange(state["rows"][0]), state["states"][0]),
                             np.tile(np.arange(state["states"][0]), state["rows"][0]))
        # C order: the mean's summation order (and so its last bit) must not depend on layout.
        return {f"p.{a}": float(v) for a, v in enumerate(np.ascontiguousarray(p).mean(axis=0))}


def _check(name: str, value: float, low: float, high: float | None = None) -> None:
    if not (value >= low and (high is None or value <= high)):
        policy_name, param = name.split(".")
        allowed = f"between {low:g} and {high:g}" if high is not None else f"{low:g} or more"
        raise SpecboundError(f"policy {policy_name!r}: param {param!r} must be {allowed}, got {value!r}")


def _shape(agents: int, states: int) -> State:
    return {"rows": np.array([agents]), "states": np.array([states])}


@policy("roth_erev")
class RothErev(Learner):
    """Roth-Erev reinforcement (Erev and Roth 1998, three parameters).

    Propensities ``q`` start at ``initial``; after a decision every propensity
    decays by ``forgetting``, the act taken gains ``(1 - experimentation)`` times
    the reward minus ``reference`` (negative below it: Erev and Roth's reference
    point, the form Macy and Flache 2002 compare with aspiration learning) and the
    others share ``experimentation`` of it; a propensity never falls below 1e-9.
    Acts are chosen with probability proportional to propensity.
    """

    params: ClassVar[dict[str, Any]] = {"observe": str, "initial": (int, float), "forgetting": (int, float),
                                        "experimentation": (int, float), "reference": (int, float)}

    def __init__(self, observe: str = "", initial: float = 1.0, forgetting: float = 0.0,
                 experimentation: float = 0.0, reference: float = 0.0) -> None:
        super().__init__(observe=observe, initial=initial, forgetting=forgetting,
                         experimentation=experimentation, reference=reference)
        _check("roth_erev.initial", initial, 1e-9)
        _check("roth_erev.forgetting", forgetting, 0.0, 1.0)
        _check("roth_erev.experimentation", experimentation, 0.0, 1.0)
        self.initial, self.forgetting, self.experimentation = initial, forgetting, experimentation
        self.reference = reference

    def init_state(self, agents: int, states: int, acts: int) -> State:
        return {**_shape(agents, states), "q": np.full((agents, states, acts), float(self.initial))}

    def preferences(self, state: State, rows: np.ndarray, s: np.ndarray) -> np.ndarray:
        n_states, n_acts = state["q"].shape[1:]
        # np.take of whole rows and sums over columns: much faster than fancy indexing and
        # row-wise reductions over a few acts, with the same values.
        q = np.take(state["q"].reshape(-1, n_acts), rows * n_states + s, axis=0)
        total = q[:, 0].copy()
        for a in range(1, n_acts):
            total += q[:, a]
        return np.asarray(q / total[:, None], dtype=np.float64)

    def learn(self, state: State, rows: np.ndarray, s: np.ndarray, acts: np.ndarray,
              rewards: np.ndarray) -> None:
        n_states, n_acts = state["q"].shape[1:]
        q = state["q"].reshape(-1)
        gain = rewards - self.reference  # below the reference point a payoff weakens the act
        share = gain * self.experimentation / max(n_acts - 1, 1)
        own = gain * (1.0 - self.experimentation if n_acts > 1 else 1.0)
        # Rows may repeat (one agent, several partners): decay once per decision, add every share.
        # One flat index per act: ufunc.at on a 1-D array takes numpy's fast path.
        first = (rows * n_states + s) * n_acts
        if self.forgetting:
            for a in range(n_acts):
                np.multiply.at(q, first + a, 1.0 - self.forgetting)
        for a in range(n_acts):
            np.add.at(q, first + a, np.where(acts == a, own, share))
        np.maximum(q, 1e-9, out=q)  # a propensity never reaches zero, so every act stays possible


@policy("q_learning")
class QLearning(Learner):
    """Q-learning over the observation (Watkins 1989), with discounting of the next state.

    After a decision in state ``s`` with act ``a`` and reward ``r``, once the agent's next
    state ``s'`` with the same partner is seen (its next decision towards that partner; if it
    does not meet that partner again, its next decisions' one with the lowest partner id; with
    no partners, its next decision):
    ``Q[s, a] += rate * (r + gamma * max Q[s'] - Q[s, a])``. With ``gamma = 0`` (the
    default) the update needs no next state and happens at once: a contextual bandit.
    The maximum runs over every act, not just those the spec allows next time: the
    learner values states by what it would like to do (off-policy, as Q-learning is).
    Exploration is ``epsilon``-greedy or, with ``temperature`` > 0, softmax (Boltzmann);
    either shrinks by the factor ``decay`` per decision of the agent (annealing, as
    Sandholm and Crites 1996 anneal their temperature) down to ``floor`` of its start.
    """

    follows_partners: ClassVar[bool] = True
    params: ClassVar[dict[str, Any]] = {"observe": str, "rate": (int, float), "epsilon": (int, float),
                                        "temperature": (int, float), "initial": (int, float),
                                        "gamma": (int, float), "decay": (int, float), "floor": (int, float)}

    def __init__(self, observe: str = "", rate: float = 0.1, epsilon: float = 0.1, temperature: float = 0.0,
                 initial: float = 0.0, gamma: float = 0.0, decay: float = 1.0, floor: float = 0.0) -> None:
        super().__init__(observe=observe, rate=rate, epsilon=epsilon, temperature=temperature, initial=initial,
                         gamma=gamma, decay=decay, floor=floor)
        _check("q_learning.rate", rate, 0.0, 1.0)
        _check("q_learning.epsilon", epsilon, 0.0, 1.0)
        _check("q_learning.temperature", temperature, 0.0)
        _check("q_learning.gamma", gamma, 0.0, 1.0)
        _check("q_learning.decay", decay, 0.0, 1.0)
        _check("q_learning.floor", floor, 0.0, 1.0)
        self.rate, self.epsilon, self.temperature, self.initial = rate, epsilon, temperature, initial
        self.gamma, self.decay, self.floor = gamma, decay, floor

    def init_state(self, agents: int, states: int, acts: int) -> State:
        st = {**_shape(agents, states), "Q": np.full((agents, states, acts), float(self.initial))}
        if self.decay < 1:
            st["t"] = np.zeros(agents, dtype=np.int64)  # decisions so far, for annealing
        if self.gamma > 0:
            # Decisions waiting for their next state: sorted keys (agent row << 32 | partner + 1),
            # the flat index of each one's Q-value, and its reward.
            st["wait_key"] = np.zeros(0, dtype=np.int64)
            st["wait_cell"] = np.zeros(0, dtype=np.int64)
            st["wait_r"] = np.zeros(0)
        return st

    def _scale(self, state: State, rows: np.ndarray) -> np.ndarray | float:
        if self.decay >= 1:
            return 1.0
        scale: np.ndarray = np.maximum(self.decay ** state["t"][rows].astype(np.float64), self.floor)
        return scale

    def preferences(self, state: State, rows: np.ndarray, s: np.ndarray) -> np.ndarray:
        n_states, n_acts = state["Q"].shape[1:]
        q = np.take(state["Q"].reshape(-1, n_acts), rows * n_states + s, axis=0)
        cols = [q[:, a] for a in range(n_acts)]  # column by column: a few acts, many decisions
        top = column_max(cols)
        scale = self._scale(state, rows)
        out = np.empty((len(q), n_acts), order="F")
        if self.temperature > 0:
            return softmax_columns(cols, top, np.maximum(self.temperature * scale, 1e-12), out)
        best = [c == top for c in cols]
        count = best[0].astype(np.int64)
        for b in best[1:]:
            count += b
        eps = self.epsilon * scale
        for a in range(n_acts):
            out[:, a] = (1 - eps) * (best[a] / count) + eps / n_acts
        return out

    def learn(self, state: State, rows: np.ndarray, s: np.ndarray, acts: np.ndarray,
              rewards: np.ndarray, partners: np.ndarray | None = None) -> None:
        n_states, n_acts = state["Q"].shape[1:]
        q = state["Q"].reshape(-1)  # flat: ufunc.at on one index takes numpy's fast path
        if "t" in state:
            np.add.at(state["t"], rows, 1)
        if self.gamma == 0:
            cell = (rows * n_states + s) * n_acts + acts
            np.add.at(q, cell, self.rate * (rewards - q[cell]))
            return
        wait, wcell, wr = state["wait_key"], state["wait_cell"], state["wait_r"]
        step = _settle_kernel(len(wait) + len(rows))
        if step is not None:  # keys, their runs and the update in one compiled call
            state["wait_key"], state["wait_cell"], state["wait_r"] = step(
                q, rows.astype(np.int64, copy=False), s.astype(np.int64, copy=False),
                np.asarray(acts, dtype=np.int64), np.asarray(rewards, dtype=np.float64),
                np.zeros(0, dtype=np.int64) if partners is None else np.asarray(partners, dtype=np.int64),
                wait, wcell, wr, n_states, n_acts, float(self.rate), float(self.gamma), int(state["rows"][0]))
            return
        cell = (rows * n_states + s) * n_acts + acts
        key = rows.astype(np.int64) << 32
        if partners is not None:
            key = key + (np.asarray(partners, dtype=np.int64) + 1)
        uniq, first, last = runs(key)  # one sort serves the look-ups and what waits next
        new_cell, new_r = cell[last], np.asarray(rewards, dtype=np.float64)[last]
        if not len(wait):
            state["wait_key"], state["wait_cell"], state["wait_r"] = uniq, new_cell, new_r
            return
        # Both key lists are sorted and distinct: one stable merge (a waiting key just before an
        # equal new one) finds the exact matches and is already the order of what waits next.
        nw = len(wait)
        both = np.concatenate([wait, uniq])
        order = np.argsort(both, kind="stable")  # two sorted runs: a linear merge
        merged = both[order]
        at = np.flatnonzero(merged[1:] == merged[:-1])
        # A waiting decision's next state is that of this step's decision with the same key
        # (agent and partner) or, failing that, of the agent's decision this step with the
        # lowest partner; one whose agent did not decide waits on.
        nxt = np.full(nw, -1, dtype=np.int64)
        nxt[order[at]] = first[order[at + 1] - nw]
        loose = np.flatnonzero(nxt < 0)
        if len(loose):
            row = uniq >> 32  # sorted keys are sorted by agent row first
            head = np.flatnonzero(np.concatenate([[True], row[1:] != row[:-1]]))
            head_of = np.full(int(state["rows"][0]), -1, dtype=np.int64)  # per agent row
            head_of[row[head]] = first[head]
            nxt[loose] = head_of[wait[loose] >> 32]
        done = np.flatnonzero(nxt >= 0)
        k = nxt[done]
        nq = np.take(state["Q"].reshape(-1, n_acts), rows[k] * n_states + s[k], axis=0)
        best = nq[:, 0]
        for a in range(1, n_acts):
            best = np.maximum(best, nq[:, a])
        c0 = wcell[done]
        # Several waiting decisions may share (agent, state, act): add.at applies each.
        np.add.at(q, c0, self.rate * (wr[done] + self.gamma * best - q[c0]))
        # This step's decisions wait in turn (a key decided twice in one step: the last waits),
        # with the waiting ones not answered, in the merged order (their keys are all distinct).
        answered = np.zeros(len(both), dtype=bool)
        answered[done] = True
        by = order[np.flatnonzero(~answered[order])]  # an index, not a mask: a mask is 4x slower
        state["wait_key"] = both[by]
        state["wait_cell"] = np.concatenate([wcell, new_cell])[by]
        state["wait_r"] = np.concatenate([wr, new_r])[by]


#: Waiting plus new decisions from which a discounting update is compiled (``q_kernel``): below
#: it numba's import (most of a second, once per process) would not pay unless already loaded.
SETTLE_KERNEL_MIN = 1 << 13


def _settle_kernel(work: int) -> Any:
    """``agents.policies.q_kernel.step`` for an update of ``work`` keys, or None: numpy's way."""
    q_kernel = worth_loading("agents.policies.q_kernel", work, SETTLE_KERNEL_MIN)
    return None if q_kernel is None else q_kernel.step


@policy("aspiration")
class Aspiration(Learner):
    """Bush-Mosteller learning against an aspiration level (Macy and Flache 2002).

    The stimulus of a decision is ``(reward - aspiration) / scale`` (``scale``: the
    largest ``|payoff - aspiration|``, so the stimulus is within [-1, 1]). A positive
    stimulus moves the probability of the act taken towards 1 by ``rate * stimulus``
    of the way, a negative one towards 0; the other acts share the rest in proportion.

    With ``habituation`` h > 0 each agent's aspiration moves with experience, as in
    Macy and Flache's habituation and Karandikar et al.'s (1998) evolving aspirations:
    after each step ``aspiration = (1 - h) * aspiration + h * payoff`` (the agent's mean
    payoff per decision in the step), so what satisfies an agent is what it got used to.
    """

    params: ClassVar[dict[str, Any]] = {"observe": str, "aspiration": (int, float), "rate": (int, float),
                                        "scale": (int, float), "habituation": (int, float)}

    def __init__(self, observe: str = "", aspiration: float = 2.0, rate: float = 0.5, scale: float = 2.0,
                 habituation: float = 0.0) -> None:
        super().__init__(observe=observe, aspiration=aspiration, rate=rate, scale=scale, habituation=habituation)
        _check("aspiration.rate", rate, 0.0, 1.0)
        _check("aspiration.scale", scale, 1e-12)
        _check("aspiration.habituation", habituation, 0.0, 1.0)
        self.aspiration, self.rate, self.scale, self.habituation = aspiration, rate, scale, habituation

    def init_state(self, agents: int, states: int, acts: int) -> State:
        st = {**_shape(agents, states), "p": np.full((agents, states, acts), 1.0 / acts)}
        if self.habituation > 0:
            st["level"] = np.full(agents, float(self.aspiration))  # each agent's own aspiration
        return st

    def preferences(self, state: State, rows: np.ndarray, s: np.ndarray) -> np.ndarray:
        return np.asarray(state["p"][rows, s], dtype=np.float64)

    def learn(self, state: State, rows: np.ndarray, s: np.ndarray, acts: np.ndarray,
              rewards: np.ndarray) -> None:
        # Decisions of one agent in one state within a step are applied in order, which
        # np.add.at cannot express for this multiplicative rule: those are rare, so the
        # update goes through the unique (row, state) pairs, the last decision winning.
        p = state["p"]
        level = state["level"][rows] if "level" in state else self.aspiration
        stim = np.clip((rewards - level) / self.scale, -1.0, 1.0) * self.rate
        k = np.arange(len(rows))
        old = p[rows, s, acts]
        new = np.where(stim >= 0, old + (1 - old) * stim, old + old * stim)
        rest = np.where(old < 1, (1 - new) / np.maximum(1 - old, 1e-12), 0.0)
        vec = p[rows, s] * rest[:, None]
        vec[k, acts] = new
        p[rows, s] = vec / vec.sum(axis=1, keepdims=True)
        if "level" in state:
            n = len(state["level"])
            count = np.bincount(rows, minlength=n)
            seen = count > 0
            mean = np.bincount(rows, weights=rewards, minlength=n)[seen] / count[seen]
            state["level"][seen] += self.habituation * (mean - state["level"][seen])

    def summary(self, state: State) -> dict[str, float]:
        out = super().summary(state)
        if "level" in state:
            out["aspiration.mean"] = float(state["level"].mean())
        return out
