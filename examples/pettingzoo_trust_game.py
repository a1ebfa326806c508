"""Independent Q-learners in the trust game, with and without their spec's action mask.

Four learners join six reciprocal traders, in fixed pairs, and play the
investment game through ``specbound.pettingzoo``. All are bound by the
platform spec, whose ``keep_promises`` principle (system level) forbids
keeping everything after promising a return. One set of learners picks only
among the acts the chain of command allows (the observation's
``action_mask``); the other ignores the mask, so it may promise and then keep
everything, which the engine books as violations and which investors, who
detect most broken promises, remember in their trust. Both face the same
seeds episode for episode.

Run it (about 17 s of CPU):

    .venv/bin/python examples/pettingzoo_trust_game.py

It prints the mean return of the last episodes in both conditions and writes
the learning curves to ``docs/pettingzoo-trust-game.png``.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from specbound.pettingzoo import SpecParallelEnv, parallel_env

SCENARIO = {
    "steps": 20,
    # Fixed pairs (a perfect matching, no rewiring): each learner meets one partner per step,
    # so the payoff that settles a step rewards the decisions of that one game.
    "network.kind": "random_regular",
    "network.degree": 1,
    "network.rewire.below": 0.0,
    "groups.reciprocal.count": 6,
    "groups.opportunists.count": 4,
    "groups.opportunists.spec": "platform",
}
# The fields a learner's state keeps: the decision, what the partner promised and sent, how it
# behaved last time, and trust in coarse steps (a small table learns in a few hundred episodes).
EPSILON = 0.3  # exploration at first, decaying to 0.02 by 70% of the episodes
Q0 = 40.0  # above any one decision's payoff (at most 30 here)
STATE = ("phase", "promised", "sent", "partner_last", "trust")


class QLearner:
    """Tabular Q-learning over decision points; a transition runs from one decision to the next."""

    def __init__(self, rng: np.random.Generator, alpha: float = 0.1, gamma: float = 0.9) -> None:
        # Optimistic start: every act looks good until tried, so none is written off after one
        # bad round (a partner who has not learnt to trust yet).
        self.q: dict[tuple, np.ndarray] = defaultdict(lambda: np.full(3, Q0))
        self.rng, self.alpha, self.gamma = rng, alpha, gamma
        self.last: tuple[tuple, int] | None = None
        self.reward = 0.0

    def act(self, state: tuple, candidates: np.ndarray, epsilon: float) -> int:
        """Learn from the transition that ends here, then choose among ``candidates`` epsilon-greedily."""
        values = self.q[state]
        self._learn(float(values[candidates].max()))
        if self.rng.random() < epsilon:
            a = int(self.rng.choice(candidates))
        else:
            a = int(candidates[np.argmax(values[candidates])])
        self.last = (state, a)
        return a

    def end(self) -> None:
        self._learn(0.0)
        self.last = None

    def _learn(self, future: float) -> None:
        if self.last is not None:
            state, a = self.last
            self.q[state][a] += self.alpha * (self.reward + self.gamma * future - self.q[state][a])
        self.reward = 0.0


def state_of(env: SpecParallelEnv, obs: np.ndarray) -> tuple:
    fields = dict(zip(env.observation_fields, obs.tolist(), strict=True))
    fields["trust"] //= 5
    return tuple(fields[f] for f in STATE)


def train(masked: bool, episodes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per episode: mean return per learner, their violations, and the trust others end with in them."""
    env = parallel_env("trust-game", learners="opportunists", **{k: v for k, v in SCENARIO.items()})
    rng = np.random.default_rng(seed)
    learners = {a: QLearner(rng) for a in env.possible_agents}
    returns, violations, trusted = [], [], []
    for episode in range(episodes):
        epsilon = max(0.02, EPSILON * (1 - episode / (0.7 * episodes)))
        obs, infos = env.reset(seed=episode)
        total = 0.0
        while env.agents:
            actions: dict[str, Any] = {}
            for a in env.agents:
                acts = infos[a]["acts"]
                if not acts:  # idle at this decision point
                    actions[a] = env.action_space(a).n - 1
                    continue
                allowed = obs[a]["action_mask"][: len(acts)] if masked else np.ones(len(acts))
                candidates = np.flatnonzero(allowed)
                actions[a] = learners[a].act(state_of(env, obs[a]["observation"]), candidates, epsilon)
            obs, rewards, _terminations, _truncations, infos = env.step(actions)
            for a, r in rewards.items():
                learners[a].reward += r
                total += r
        for learner in learners.values():
            learner.end()
        returns.append(total / len(learners))
        violations.append(env.model.final_metrics()["violations"])
        trust = [i["trusted"] for i in infos.values() if i["trusted"] is not None]
        trusted.append(float(np.mean(trust)) if trust else np.nan)
    env.close()
    return {"return": np.array(returns), "violations": np.array(violations), "trusted": np.array(trusted)}


def smooth(x: np.ndarray, k: int) -> np.ndarray:
    k = max(1, min(k, len(x)))
    return np.convolve(x, np.ones(k) / k, mode="valid")


def plot(runs: dict[str, dict[str, np.ndarray]], out: Path) -> None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    k = max(1, len(next(iter(runs.values()))["return"]) // 20)
    for label, r in runs.items():
        x = np.arange(len(smooth(r["return"], k))) + k
        ax1.plot(x, smooth(r["return"], k), label=label)
        ax2.plot(x, smooth(r["trusted"], k), label=label)
    ax1.set(xlabel="episode", ylabel="return per learner (20 steps)",
            title=f"Learning curves (moving mean of {k})")
    ax2.set(xlabel="episode", ylabel="others' trust in the learners, end of episode", ylim=(0, 1))
    ax1.legend()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs"
                        / "pettingzoo-trust-game.png")
    args = parser.parse_args(argv)
    runs = {"with the spec's mask": train(True, args.episodes),
            "without the mask": train(False, args.episodes)}
    tail = max(1, args.episodes // 5)
    for label, r in runs.items():
        print(f"{label}: return per learner {r['return'][-tail:].mean():.1f}, "
              f"violations per episode {r['violations'][-tail:].mean():.1f}, "
              f"trusted {np.nanmean(r['trusted'][-tail:]):.2f} (last {tail} episodes)")
    plot(runs, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
