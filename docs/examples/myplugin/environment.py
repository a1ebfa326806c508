"""Environment: ``stag-hunt``, a pairwise coordination game (every edge plays once per step)."""

from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.acts import Act, ActSpace
from scenarios.environment import Environment, environment, out_of_range
from scenarios.metric_registry import Metric

HUNT = ActSpace([Act("stag", cooperative=True), Act("hare", cooperative=False)])
HuntObs = namedtuple("HuntObs", "partner_last")


@dataclass(frozen=True)
class HuntParams:
    stag: float = 4.0   # both hunt the stag
    hare: float = 2.0   # a hare, whatever the partner does
    alone: float = 0.0  # a stag hunted alone

    def validate(self) -> str | None:
        return out_of_range(self, nonneg=("stag", "hare", "alone"))


@environment("stag-hunt")
class StagHunt(Environment):
    """Stag hunt: cooperating pays most, but only if the partner cooperates too."""

    Params = HuntParams
    acts = HUNT
    Obs = HuntObs
    cardinality = (3,)   # partner's last move: -1 none, 0 hare, 1 stag
    offset = (1,)
    pairwise = True
    description = "stag hunt on a network (example plugin)"
    supplies = (Metric("stags", "stags hunted together", "count"),)

    def step(self, model: Any) -> None:
        e = model.edges
        if not len(e):
            return
        agents, partners = np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]])
        model.pairs.index(agents, partners)  # creates the rows of pairs meeting for the first time
        rows, back = model.pairs.index(agents, partners), model.pairs.index(partners, agents)
        codes = self.codec.encode(partner_last=model.pairs["last"][back])
        act = model.decide(agents, codes, partners)
        stag = act == 0
        other = np.concatenate([stag[len(e):], stag[: len(e)]])
        p = self.params
        pay = np.where(stag, np.where(other, p.stag, p.alone), p.hare)
        model.add_payoff(agents, pay)
        model.pairs.record_moves(rows, stag.astype(np.int8), other.astype(np.int8))
        model.pairs.observe(rows, other.astype(float), (~other).astype(float))
        model.record_truth(agents, stag)
        model.count("stags", float((stag & other).sum()) / 2)
        self.bounds = (len(e) * 2 * p.hare, len(e) * 2 * p.stag)
