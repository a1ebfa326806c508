"""Every shipped scenario's game as a plain, idiomatic Mesa 3.5 model (no specs, no chain).

These are the models a Mesa user would write by hand for the games of
``scenarios/*.toml``: a ``mesa.Model`` seeded with ``rng=``, one agent per
node of a ``mesa.discrete_space.Network`` (or no space where the scenario has
no network), Python loops over the matching, each decision a method of the
agent reading its own state and its per-partner Beta counts, payoffs settled
the way the scenario's environment settles them. They are the baselines of
``bench/every_scenario.py``.

The graph is an input (the edges specbound played on), so both sides play
exactly the same matching. Each model counts the decisions it takes per step,
phase by phase, so the benchmark can check that both sides did the same work
where the matching fixes it. The IPD model follows the classic strategies move
for move, so its payoffs are compared exactly; in the other games specbound's
decisions are random (drawn parameters, detection, reserves), and the peers
use the policy's rule on their own draws.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import mesa
import networkx as nx
import numpy as np
from mesa.discrete_space import FixedAgent, Network

#: Trust a policy needs to cooperate with a partner, where the scenario's policy has a threshold.
THRESHOLD = 0.5


def mesa_network(model: mesa.Model, n: int, edges: np.ndarray) -> Network:
    """A Mesa Network on nodes 0..n-1 with ``edges`` (layout off: Mesa's spring layout is quadratic)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(map(tuple, np.asarray(edges).tolist()))
    return Network(graph, random=model.random, layout=None)


class Player(FixedAgent):
    """One agent: its kind (the scenario group's policy), a parameter, Beta counts per partner."""

    def __init__(self, model: GameModel, idx: int, kind: str, param: float) -> None:
        super().__init__(model)
        self.kind = kind
        self.param = param
        self.payoff = 0.0
        self.kept: dict[int, float] = {}
        self.idx = idx
        self.broken: dict[int, float] = {}

    def trust(self, other: int) -> float:
        """Beta(1, 1) posterior mean of the partner keeping its word."""
        k = self.kept.get(other, 0.0)
        return (k + 1.0) / (k + self.broken.get(other, 0.0) + 2.0)

    def learn(self, other: int, kept: float, broken: float) -> None:
        self.kept[other] = self.kept.get(other, 0.0) + kept
        self.broken[other] = self.broken.get(other, 0.0) + broken


class GameModel(mesa.Model):
    """What every peer game shares: players by kind, the network, decision counts per step.

    Args:
        kinds: per agent, its group's policy name.
        params: per agent, one drawn parameter of its policy (temptation, warmth...).
        edges: the graph specbound played on, (m, 2); empty for scenarios without a network.
        seed: seed of the model's ``rng``.
    """

    def __init__(self, kinds: Sequence[str], params: Sequence[float], edges: np.ndarray,
                 seed: int = 0) -> None:
        super().__init__(rng=seed)
        n = len(kinds)
        self.players = [Player(self, i, k, float(p)) for i, (k, p) in enumerate(zip(kinds, params, strict=True))]
        self.pairs: list[tuple[Player, Player]] = []
        if len(edges) and len(edges) == n * (n - 1) // 2:
            # A round robin (complete graph): every pair once, as a Mesa user writes a
            # tournament; a network space would add nothing but a long build.
            self.pairs = [(self.players[i], self.players[j]) for i, j in np.asarray(edges).tolist()]
        elif len(edges):
            self.grid = mesa_network(self, n, edges)
            for node, player in enumerate(self.players):
                player.cell = self.grid[node]
            # The matching as a Mesa user reads it: each edge of the network once.
            self.pairs = [(self.players[i], self.players[j]) for i, j in self.grid.G.edges()]
        self.decisions: list[int] = []  # per step: decisions in the phases the matching fixes

    def play(self, steps: int) -> GameModel:
        for _ in range(steps):
            self.step()
        return self

    def payoffs(self) -> np.ndarray:
        return np.array([p.payoff for p in self.players])


# --- the iterated prisoner's dilemma (ipd-classic, moran-ipd) --------------------------------


def _strategies() -> dict[str, Callable[[int, int, int, bool, bool, int], bool]]:
    """Classic strategies on (my_last, partner_last, partner_last2, defected, good, parity); -1 none."""
    return {
        "cooperator": lambda m, p, p2, d, g, t: True,
        "defector": lambda m, p, p2, d, g, t: False,
        "tit_for_tat": lambda m, p, p2, d, g, t: p != 0,
        "suspicious_tit_for_tat": lambda m, p, p2, d, g, t: p == 1,
        "anti_tit_for_tat": lambda m, p, p2, d, g, t: p != 1,
        "bully": lambda m, p, p2, d, g, t: p == 0,
        "alternator": lambda m, p, p2, d, g, t: m != 1,
        "cycler_dc": lambda m, p, p2, d, g, t: t == 1,
        "grudger": lambda m, p, p2, d, g, t: not d,
        "tit_for_two_tats": lambda m, p, p2, d, g, t: not (p == 0 and p2 == 0),
        "win_stay_lose_shift": lambda m, p, p2, d, g, t: True if m == -1 else (m == 1) == g,
        "win_shift_lose_stay": lambda m, p, p2, d, g, t: False if m == -1 else (m == 1) != g,
    }


class IpdGame(GameModel):
    """Every edge plays one round a step; with ``moran`` one birth-death update follows.

    Each ordered pair keeps (my_last, partner_last, partner_last2, defected, good, turns).
    """

    def __init__(self, kinds: Sequence[str], edges: np.ndarray, payoff: tuple[float, float, float, float],
                 moran: float | None = None, seed: int = 0) -> None:
        super().__init__(kinds, [0.0] * len(kinds), edges, seed)
        self.R, self.S, self.T, self.P = payoff
        self.moran = moran
        self.rules = _strategies()
        self.memory: dict[tuple[int, int], list[Any]] = {}
        for a, b in self.pairs:
            self.memory[a.idx, b.idx] = [-1, -1, -1, False, False, 0]
            self.memory[b.idx, a.idx] = [-1, -1, -1, False, False, 0]

    def move(self, me: Player, other: Player) -> bool:
        m, p, p2, d, g, t = self.memory[me.idx, other.idx]
        return self.rules[me.kind](m, p, p2, d, g, t % 2)

    def pay(self, a: Player, b: Player, ca: bool, cb: bool) -> tuple[float, float]:
        """Credit one round's payoffs to both players; returns them."""
        pa = (self.R if cb else self.S) if ca else (self.T if cb else self.P)
        pb = (self.R if ca else self.S) if cb else (self.T if ca else self.P)
        a.payoff += pa
        b.payoff += pb
        return pa, pb

    def step(self) -> None:
        moves = [(a, b, self.move(a, b), self.move(b, a)) for a, b in self.pairs]
        for a, b, ca, cb in moves:
            pa, pb = self.pay(a, b, ca, cb)
            for me, other, mine, theirs, got in ((a, b, ca, cb, pa), (b, a, cb, ca, pb)):
                rec = self.memory[me.idx, other.idx]
                rec[2], rec[1], rec[0] = rec[1], int(theirs), int(mine)
                rec[3] = rec[3] or not theirs
                rec[4] = got in (self.R, self.T)
                rec[5] += 1
                me.learn(other.idx, float(theirs), float(not theirs))
        self.decisions.append(2 * len(moves))
        if self.moran is not None:
            self._moran_update()

    def _moran_update(self) -> None:
        """Birth proportional to exp(selection x payoff), death uniform: the newborn's kind replaces it."""
        fitness = [math.exp(self.moran * p.payoff / max(1, self.steps)) for p in self.players]
        parent = self.random.choices(self.players, weights=fitness)[0]
        self.random.choice(self.players).kind = parent.kind


class IpdQLearning(IpdGame):
    """Tabular Q-learners in the IPD: state (my last move, the partner's), epsilon-greedy.

    Each agent keeps ``Q[state] = [q_defect, q_cooperate]``; after a round the next
    state with that partner is known at once, so the update follows the round.
    """

    def __init__(self, kinds: Sequence[str], edges: np.ndarray, payoff: tuple[float, float, float, float],
                 rate: float, epsilon: float, gamma: float, seed: int = 0) -> None:
        super().__init__(kinds, edges, payoff, seed=seed)
        self.rate, self.epsilon, self.gamma = rate, epsilon, gamma
        self.q: list[dict[tuple[int, int], list[float]]] = [{} for _ in self.players]

    def choose(self, me: Player, other: Player) -> bool:
        m, p = self.memory[me.idx, other.idx][:2]
        if self.random.random() < self.epsilon:
            return self.random.random() < 0.5
        q = self.q[me.idx].setdefault((m, p), [0.0, 0.0])
        return q[1] > q[0] or (q[1] == q[0] and self.random.random() < 0.5)

    def step(self) -> None:
        for a, b in self.pairs:
            ca, cb = self.choose(a, b), self.choose(b, a)
            pa, pb = self.pay(a, b, ca, cb)
            for me, other, mine, theirs, got in ((a, b, ca, cb, pa), (b, a, cb, ca, pb)):
                rec = self.memory[me.idx, other.idx]
                q = self.q[me.idx]
                now = q.setdefault((rec[0], rec[1]), [0.0, 0.0])
                rec[2], rec[1], rec[0] = rec[1], int(theirs), int(mine)
                nxt = q.setdefault((rec[0], rec[1]), [0.0, 0.0])
                now[int(mine)] += self.rate * (got + self.gamma * max(nxt) - now[int(mine)])
        self.decisions.append(2 * len(self.pairs))


# --- the trust (investment) game (trust-game, trust-game-learning) ---------------------------


class TrustGame(GameModel):
    """Each edge: a coin picks the investor; the trustee may promise, the investor sends, the trustee returns.

    Reciprocal agents promise, send and return half while their trust in the partner is at
    least ``THRESHOLD``; opportunists promise and keep everything. A broken promise the
    investor sees (probability ``detect``) adds ``lie`` to its broken evidence, as
    specbound's ``lie_penalty`` does. Learners (``fictitious_play``) choose every act by
    fictitious play over their partner's last move towards them, greedy with ``epsilon``
    exploration, and learn their beliefs and the acts' mean rewards after each step, as
    ``agents.policies.beliefs.FictitiousPlay`` does; a learner who promised and chose to
    return nothing chooses again among the returns that keep its word (its spec's say).
    With ``rewire`` (the scenario's ``[network.rewire]``: ``every``, ``below``), every
    ``every`` steps each tie where either side's trust fell below ``below`` is cut, and
    the side that distrusts tries up to ``REWIRE_TRIES`` random agents for a new partner
    it is not tied to: the rule specbound's network applies, on the Mesa network.
    """

    #: Random partners tried per cut tie (specbound's ``sim.network.REWIRE_TRIES``).
    REWIRE_TRIES = 8
    #: Shares sent (the investor's acts) and returned (the trustee's).
    SENDS = (0.0, 0.5, 1.0)
    RETURNS = (0.0, 1.0 / 3.0, 0.5)

    def __init__(self, kinds: Sequence[str], edges: np.ndarray, endowment: float, multiplier: float,
                 promises: bool, rewire: dict[str, Any] | None = None, seed: int = 0, detect: float = 0.8,
                 lie: float = 1.0, initial: float = 20.0, epsilon: float = 0.05) -> None:
        super().__init__(kinds, [0.0] * len(kinds), edges, seed)
        self.endowment, self.multiplier, self.promises = endowment, multiplier, promises
        self.rewire = dict(rewire) if rewire else None
        self.detect, self.lie, self.initial, self.epsilon = detect, lie, initial, epsilon
        # Per player: partner -> its last move towards the player (1 cooperated, 0 not), and
        # (phase, state) -> a learner's beliefs and act values.
        self.heard: list[dict[int, int]] = [{} for _ in self.players]
        self.mind: list[dict[tuple[int, int], list[Any]]] = [{} for _ in self.players]
        self.learners = "fictitious_play" in kinds

    def choose(self, me: Player, other: Player, phase: int, acts: int, made: list[Any]) -> int:
        """A learner's act: the best under its belief about partners in this state, or a random one."""
        state = self.heard[me.idx].get(other.idx, -1) + 1
        minds = self.mind[me.idx]
        mind = minds.get((phase, state))
        if mind is None:  # seen (defected, cooperated), then per act: value and tries per move
            mind = minds[phase, state] = [[1.0, 1.0], [[self.initial, self.initial] for _ in range(acts)],
                                          [[0.0, 0.0] for _ in range(acts)]]
        seen, value, _ = mind
        belief = seen[1] / (seen[0] + seen[1])
        worth = [u[0] + belief * (u[1] - u[0]) for u in value]
        top = max(worth) - 1e-6
        best = [w >= top for w in worth]
        share = (1 - self.epsilon) / sum(best)
        pick, cum, r = 0, 0.0, self.random.random()
        for act in range(acts - 1):
            cum += (share if best[act] else 0.0) + self.epsilon / acts
            if cum <= r:
                pick = act + 1
        made.append((me, mind, pick))
        return pick

    def learn_all(self, made: list[Any], pay: list[float]) -> None:
        """Each learner decision of the step rewarded with its agent's payoff per decision,
        against the partner's move towards it (-1: it had no say)."""
        count = Counter(me for me, *_ in made)
        for me, mind, act, move in made:
            reward = pay[me] / count[me]
            seen, value, tried = mind
            if move >= 0:
                seen[move] += 1.0
            for m in ((move,) if move >= 0 else (0, 1)):
                tried[act][m] += 1.0
                value[act][m] += (reward - value[act][m]) / tried[act][m]

    def step(self) -> None:
        rnd = self.random.random
        made = 0
        learners = self.learners
        learned: list[Any] = []  # (learner, its mind, act, the partner's move towards it)
        game: list[Any] = []
        pay = [0.0] * len(self.players) if learners else []
        for a, b in self.pairs:
            inv, tru = (a, b) if rnd() < 0.5 else (b, a)
            made += 2 if self.promises else 1
            promised = False
            if self.promises:
                if tru.kind == "fictitious_play":
                    promised = self.choose(tru, inv, 0, 2, game) == 0
                else:
                    promised = tru.kind == "opportunist" or tru.trust(inv.idx) >= THRESHOLD
            if inv.kind == "fictitious_play":
                send = self.SENDS[self.choose(inv, tru, 1, 3, game)]
            else:
                send = 1.0 if inv.trust(tru.idx) >= THRESHOLD else 0.0
            ret = 0.0
            if send > 0:
                if tru.kind == "fictitious_play":
                    act = self.choose(tru, inv, 2 if promised else 3, 3, game)
                    if promised and act == 0:  # the spec keeps its word: a return that does
                        act = 1 if rnd() < 0.5 else 2
                    ret = self.RETURNS[act]
                elif tru.kind != "opportunist":
                    ret = 0.5 if tru.trust(inv.idx) >= THRESHOLD else 0.0
            sent = send * self.endowment
            back = ret * sent * self.multiplier
            gain_inv, gain_tru = self.endowment - sent + back, sent * self.multiplier - back
            inv.payoff += gain_inv
            tru.payoff += gain_tru
            if send > 0:
                seen = promised and ret == 0 and rnd() < self.detect
                inv.learn(tru.idx, float(ret > 0), float(ret == 0) + (self.lie if seen else 0.0))
            tru.learn(inv.idx, float(send > 0), 0.0)
            if learners:
                pay[inv.idx] += gain_inv
                pay[tru.idx] += gain_tru
                returned, invested = (int(ret > 0) if send > 0 else -1), int(send > 0)
                for me, mind, act in game:
                    learned.append((me.idx, mind, act, returned if me is inv else invested))
                game.clear()
                if send > 0:
                    self.heard[inv.idx][tru.idx] = returned
                self.heard[tru.idx][inv.idx] = invested
        if learned:
            self.learn_all(learned, pay)
        self.decisions.append(made)
        if self.rewire and self.steps % int(self.rewire.get("every", 1)) == 0:
            self._rewire(float(self.rewire.get("below", 0.3)))

    def _rewire(self, below: float) -> None:
        """Cut distrusted ties; the distrusting side looks for a new partner at random."""
        cuts = [(a, b, a.trust(b.idx) < below) for a, b in self.pairs
                if a.trust(b.idx) < below or b.trust(a.idx) < below]
        if not cuts:
            return
        graph = self.grid
        for a, b, a_distrusts in cuts:
            who = a if a_distrusts else b
            graph.remove_connection(a.cell, b.cell)
            for _ in range(self.REWIRE_TRIES):
                other = self.random.choice(self.players)
                if other is not who and not graph.G.has_edge(who.idx, other.idx):
                    graph.add_connection(who.cell, other.cell)
                    break
        players = self.players
        self.pairs = [(players[i], players[j]) for i, j in graph.G.edges()]


# --- negotiation (negotiation-*, spec-evolution, spec-incident) ------------------------------


class Negotiation(GameModel):
    """Each buyer-seller edge bargains: reserves drawn, each side maybe asked, answers, closes."""

    def __init__(self, kinds: Sequence[str], params: Sequence[float], edges: np.ndarray, sellers: set[str],
                 ask_prob: float, leverage: float, detect_prob: float, lie_penalty: float,
                 refuse_penalty: float, seed: int = 0) -> None:
        super().__init__(kinds, params, edges, seed)
        self.ask_prob, self.leverage, self.detect = ask_prob, leverage, detect_prob
        self.lie_penalty, self.refuse_penalty = lie_penalty, refuse_penalty
        self.is_seller = [k in sellers for k in kinds]
        self.pairs = [(a, b) if not self.is_seller[a.idx] else (b, a) for a, b in self.pairs
                      if self.is_seller[a.idx] != self.is_seller[b.idx]]
        self.told = dict.fromkeys(range(len(kinds)), 0.0)
        self.caught = dict.fromkeys(range(len(kinds)), 0.0)

    def answer(self, me: Player, stake: bool) -> int:
        """0 disclose, 1 refuse, 2 evade, 3 lie: deceive when the temptation beats the learned risk."""
        risk = (self.caught[me.idx] + 1.0) / (self.told[me.idx] + 2.0)
        if stake and me.param > risk:
            return 3
        if me.param > risk / 2:
            return 2
        return 1

    def step(self) -> None:
        rnd = self.random.random
        made = 0
        for buyer, seller in self.pairs:
            value, cost = rnd(), rnd()
            surplus = max(value - cost, 0.0)
            pulls = []
            for me, own in ((buyer, value), (seller, 1.0 - cost)):
                pull, evidence = 0.0, (1.0, 0.0)
                if rnd() < self.ask_prob:
                    said = self.answer(me, own > 0.5)
                    caught = rnd() < self.detect
                    pull = (-1.0, 0.0, 0.5, 1.0)[said]
                    if said >= 2:
                        self.told[me.idx] += 1.0
                        if caught:
                            self.caught[me.idx] += 1.0
                            pull = 0.0
                            evidence = (0.0, self.lie_penalty * (0.5 if said == 2 else 1.0))
                    elif said == 1:
                        evidence = (1.0 - self.refuse_penalty, self.refuse_penalty)
                pulls.append((pull, evidence))
            made += 2  # both sides close or walk: the decisions every match has
            close_b = buyer.trust(seller.idx) >= THRESHOLD
            close_s = seller.trust(buyer.idx) >= THRESHOLD
            deal = close_b and close_s and surplus > 0
            share_s = min(max(0.5 + self.leverage * (pulls[1][0] - pulls[0][0]), 0.0), 1.0)
            if deal:
                buyer.payoff += surplus * (1.0 - share_s)
                seller.payoff += surplus * share_s
            buyer.learn(seller.idx, *pulls[1][1])
            seller.learn(buyer.idx, *pulls[0][1])
        self.decisions.append(made)


# --- public goods on a network (public-goods) ------------------------------------------------


class PublicGoods(GameModel):
    """Each agent pledges and contributes to its neighbourhood's pot; keepers fine pledge breakers."""

    def __init__(self, kinds: Sequence[str], params: Sequence[float], edges: np.ndarray, r: float,
                 cost: float, fine: float, punish_cost: float, sanctions: bool, seed: int = 0) -> None:
        super().__init__(kinds, params, edges, seed)
        self.r, self.cost, self.fine, self.punish_cost, self.sanctions = r, cost, fine, punish_cost, sanctions
        self.pledged = dict.fromkeys(range(len(kinds)), False)
        self.gave = dict.fromkeys(range(len(kinds)), False)

    def choose(self, me: Player) -> tuple[bool, bool]:
        """(pledge, contribute) by the agent's kind: keepers keep while their neighbours do."""
        if me.kind == "prefers" and me.param > 0:
            mates = [self.gave[o.idx] for o in me.cell.neighborhood.agents]
            share = sum(mates) / len(mates) if mates else 1.0
            return (True, True) if share >= me.param else (False, False)
        if me.kind == "roth_erev":
            keep = self.random.random() < 0.5
            return True, keep
        return True, False

    def step(self) -> None:
        for me in self.players:
            self.pledged[me.idx], self.gave[me.idx] = self.choose(me)
        made = len(self.players)
        for me in self.players:
            group = [me, *me.cell.neighborhood.agents]
            pot = sum(self.cost for p in group if self.gave[p.idx]) * self.r
            for p in group:
                p.payoff += pot / len(group)
            if self.gave[me.idx]:
                me.payoff -= self.cost
        if self.sanctions:
            for me in self.players:
                if me.kind == "prefers" and me.param > 0:
                    for o in me.cell.neighborhood.agents:
                        if self.pledged[o.idx] and not self.gave[o.idx]:
                            me.payoff -= self.punish_cost
                            o.payoff -= self.fine
        self.decisions.append(made)


# --- public goods in groups with punishment (public-goods-fg) --------------------------------


class PublicGoodsFG(GameModel):
    """Fixed groups (partner design): contribute, then decide a fine for each group mate."""

    def __init__(self, kinds: Sequence[str], params: Sequence[float], groups: np.ndarray, endowment: float,
                 mpcr: float, punish_cost: float, fine: float, seed: int = 0) -> None:
        super().__init__(kinds, params, np.zeros((0, 2), dtype=np.int64), seed)
        self.endowment, self.mpcr, self.punish_cost, self.fine = endowment, mpcr, punish_cost, fine
        by: dict[int, list[Player]] = {}
        for p, g in zip(self.players, np.asarray(groups).tolist(), strict=True):
            by.setdefault(g, []).append(p)
        self.groups = list(by.values())
        self.last_mean = dict.fromkeys(range(len(kinds)), endowment / 2)

    def step(self) -> None:
        made = 0
        for group in self.groups:
            gives = {}
            for me in group:
                # A conditional contributor: its baseline share, pulled towards what the others gave.
                want = 0.5 * me.param * self.endowment + 0.5 * self.last_mean[me.idx]
                gives[me.idx] = min(self.endowment, round(want))
                made += 1
            pot = sum(gives.values()) * self.mpcr
            for me in group:
                me.payoff += self.endowment - gives[me.idx] + pot
                others = [gives[o.idx] for o in group if o is not me]
                self.last_mean[me.idx] = sum(others) / len(others) if others else 0.0
            for me in group:
                for o in group:
                    if o is me:
                        continue
                    made += 1
                    if gives[o.idx] < gives[me.idx] - 5 and me.param > 0.3:
                        me.payoff -= self.punish_cost
                        o.payoff -= self.fine
        self.decisions.append(made)


# --- the commons (commons, commons-newcomer) -------------------------------------------------


class Commons(GameModel):
    """One renewable stock: each agent takes, the stock regrows logistically with noise."""

    def __init__(self, kinds: Sequence[str], capacity: float, growth: float, regrowth_sd: float,
                 collapse_below: float, joins: Sequence[tuple[int, str, int]] = (), seed: int = 0) -> None:
        super().__init__(kinds, [0.0] * len(kinds), np.zeros((0, 2), dtype=np.int64), seed)
        self.capacity, self.growth, self.sd, self.collapse = capacity, growth, regrowth_sd, collapse_below
        self.stock = capacity
        self.joins = joins  # (step, kind, count): newcomers, as the scenario's join events

    def step(self) -> None:
        for at, kind, count in self.joins:
            if at == self.steps:
                self.players += [Player(self, len(self.players), kind, 0.0) for _ in range(count)]
        n = len(self.players)
        fair = self.capacity * (self.growth - 1.0) / (4.0 * self.growth) / n  # each one's sustainable share
        took = 0.0
        for me in self.players:
            want = fair if me.kind == "conditional" and self.stock > self.capacity / 2 else 2.0 * fair
            got = min(want, max(self.stock - took, 0.0))
            me.payoff += got
            took += got
        self.stock = max(self.stock - took, 0.0)
        if self.stock > self.collapse * self.capacity:
            r = self.growth * math.exp(self.random.gauss(0.0, self.sd))
            self.stock = min(self.capacity, self.stock + (r - 1.0) * self.stock * (1 - self.stock / self.capacity))
        self.decisions.append(n)


# --- questions that may spoil a child's belief (tooth-fairy) ---------------------------------


class ToothFairy(GameModel):
    """Each agent answers each neighbour's question: blunt, deflect or lie, by care and belief."""

    def __init__(self, kinds: Sequence[str], params: Sequence[float], edges: np.ndarray, child_share: float,
                 cue_accuracy: float, sensitive_prob: float, press_prob: float, prior: float,
                 seed: int = 0) -> None:
        super().__init__(kinds, params, edges, seed)
        self.child_share, self.cue, self.sensitive, self.press = child_share, cue_accuracy, sensitive_prob, press_prob
        self.prior = prior

    def answer(self, me: Player, asker: Player) -> None:
        rnd = self.random.random
        child = rnd() < self.child_share
        cue_child = child if rnd() < self.cue else not child
        sensitive = rnd() < self.sensitive
        pressed = sensitive and rnd() < self.press
        like = self.cue if cue_child else 1.0 - self.cue
        belief = like * self.prior / (like * self.prior + (1.0 - like) * (1.0 - self.prior))
        if not sensitive:
            value = 1.0
        elif me.param * belief > 0.3:
            value = 0.8 if pressed else 0.9  # a kind lie or a deflection
        else:
            value = 0.0 if child else 1.0  # blunt: spoils a child's belief
        me.payoff += value
        asker.learn(me.idx, value, 1.0 - value)

    def step(self) -> None:
        for a, b in self.pairs:
            self.answer(b, a)
            self.answer(a, b)
        self.decisions.append(2 * len(self.pairs))


# --- prompt injection (injection) ------------------------------------------------------------


class Injection(GameModel):
    """Attackers send orders along edges, the delegate invoices and overreaches; every worker
    decides to work or obey what reached it, checks the claim now and then, and workers who
    work together see who was hijacked.

    Args:
        invoice_prob, overreach_prob: per worker and step, the chance the (first) delegate
            sends an invoice or an order to transfer the funds (an attack reaches a worker first).
        verify_prob: the chance a worker checks the order it heard: its credence in the claim
            moves to the truth and a sender that spoke gains Beta evidence (broken after a lie).
        invoice: what a paid invoice moves to the delegate.
    """

    def __init__(self, kinds: Sequence[str], params: Sequence[float], edges: np.ndarray, adversary: set[str],
                 delegate: set[str], attack_prob: float, data_share: float, task_value: float,
                 stake: float, seed: int = 0, invoice_prob: float = 0.0, overreach_prob: float = 0.0,
                 verify_prob: float = 0.0, invoice: float = 0.0) -> None:
        super().__init__(kinds, params, edges, seed)
        self.adversary = [k in adversary for k in kinds]
        self.delegate = [k in delegate for k in kinds]
        self.attack_prob, self.data_share, self.task_value, self.stake = attack_prob, data_share, task_value, stake
        self.invoice_prob, self.overreach_prob, self.verify_prob = invoice_prob, overreach_prob, verify_prob
        self.invoice = invoice
        self.workers = [p for p in self.players
                        if not self.adversary[p.idx] and not self.delegate[p.idx]]
        self.treasurer = next((p for p in self.players if self.delegate[p.idx]), None)
        worker = {p.idx for p in self.workers}
        self.colleagues = [(a, b) for a, b in self.pairs if a.idx in worker and b.idx in worker]
        # Each worker's credence in what it heard, by (sender, order): -1 stands for tool output.
        self.heard: dict[int, dict[tuple[int, str], float]] = {p.idx: {} for p in self.workers}

    def step(self) -> None:
        rnd = self.random.random
        attacker: dict[int, Player] = {}
        for a, b in self.pairs:
            for src, dst in ((a, b), (b, a)):
                if (self.adversary[src.idx] and not self.adversary[dst.idx]
                        and not self.delegate[dst.idx] and rnd() < self.attack_prob):
                    attacker[dst.idx] = src
        hijacked: set[int] = set()
        treasurer = self.treasurer
        for me in self.workers:
            in_data = rnd() < self.data_share
            src = attacker.get(me.idx)
            what = "transfer"
            if src is None and treasurer is not None:
                if rnd() < self.overreach_prob:
                    src, in_data = treasurer, False
                elif rnd() < self.invoice_prob:
                    src, in_data, what = treasurer, False, "pay"
            if src is None:
                me.payoff += self.task_value
                continue
            # A transfer claims an authority its sender lacks (system, developer, the user's); an
            # invoice claims none. Credence: trust in a sender that spoke, the truth once checked.
            lie = what == "transfer"
            sender = -1 if in_data else src.idx
            checked = rnd() < self.verify_prob
            self.heard[me.idx][sender, what] = float(not lie) if checked else (
                0.5 if in_data else me.trust(src.idx))
            if checked and not in_data:
                me.learn(src.idx, float(not lie), float(lie))
            if rnd() < me.param * (0.5 if in_data else 1.0):
                if what == "pay":
                    me.payoff += self.task_value - self.invoice
                    src.payoff += self.invoice
                else:
                    me.payoff -= self.stake
                    src.payoff += self.stake
                    hijacked.add(me.idx)
            else:
                me.payoff += self.task_value
        for a, b in self.colleagues:
            a.learn(b.idx, float(b.idx not in hijacked), float(b.idx in hijacked))
            b.learn(a.idx, float(a.idx not in hijacked), float(a.idx in hijacked))
        self.decisions.append(len(self.workers))


# --- Nowak and May's spatial game (spatial-pd) -----------------------------------------------

#: The eight neighbours in the order ties are broken (rows above first), as bench.peer_spatial.
OFFSETS = tuple((dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0))


class Cell(FixedAgent):
    """One cell of the board: cooperates or defects, earns from its 3 x 3 block."""

    def __init__(self, model: SpatialPD, cell: Any, coop: bool) -> None:
        super().__init__(model)
        self.cell = cell
        self.coop = coop
        self.pay = 0.0
        self.block: list[Cell] = []


class SpatialPD(mesa.Model):
    """Every cell plays its eight neighbours and itself, then copies the best earner of its block."""

    def __init__(self, board: np.ndarray, b: float, seed: int = 0) -> None:
        super().__init__(rng=seed)
        from mesa.discrete_space import OrthogonalMooreGrid

        side = len(board)
        self.b = b
        self.grid = OrthogonalMooreGrid((side, side), torus=True, random=self.random)
        self.cells = [[Cell(self, self.grid[(r, c)], bool(board[r, c])) for c in range(side)]
                      for r in range(side)]
        for r in range(side):
            for c in range(side):
                me = self.cells[r][c]
                me.block = [self.cells[(r + dr) % side][(c + dc) % side] for dr, dc in OFFSETS]
        self.decisions: list[int] = []

    def step(self) -> None:
        flat = [x for row in self.cells for x in row]
        for me in flat:
            around = me.coop + sum(o.coop for o in me.block)
            me.pay = around if me.coop else self.b * around
        nxt = []
        for me in flat:
            best, best_pay = me.coop, me.pay
            for o in me.block:
                if o.pay > best_pay:
                    best, best_pay = o.coop, o.pay
            nxt.append(best)
        for me, c in zip(flat, nxt, strict=True):
            me.coop = c
        self.decisions.append(9 * len(flat))

    def play(self, steps: int) -> SpatialPD:
        for _ in range(steps):
            self.step()
        return self

    def board(self) -> np.ndarray:
        return np.array([[x.coop for x in row] for row in self.cells])
