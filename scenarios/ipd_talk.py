"""``ipd-talk``: the iterated prisoner's dilemma in which promises are messages with content.

Every step, every edge plays one round in two decisions. First each side may
*talk*: send its partner the message "I will cooperate." (a promise claim,
``agents.messages.promise``) or stay silent. The messages go through the
environment's :class:`scenarios.mailbox.Mailbox`, so each partner (a
language-model agent too) reads what was sent to it and nothing else. Then
both *move*, each seeing whether its partner promised (``promised``): one who
promised chooses among promise-bearing moves, so defecting after a promise
is a broken word (it fails ``keeps_promise``, and the platform's
``keep_promises`` forbids it), one who did not chooses plainly.

The environment holds the truth: the move each side played. A promise
followed by a defection is a lie (``agents.messages.is_lie``). Each promise
is verified by its receiver with probability ``detect_prob``: the
receiver's credence in it (its trust in the sender when it heard it) moves
to the truth, and a lie found out adds ``lie_penalty`` broken evidence to
the receiver's trust in the sender, on top of the move itself (kept when
the partner cooperated, broken when it defected).

``messages = false`` plays the older mechanism of ``ipd`` with promises
instead (one decision whose acts carry the promise: ``C``, ``D``,
``betray``), for comparison. Payoffs, noise, welfare bounds and the
observation fields are those of ``ipd``, plus ``stage`` (0 talk, 1 move)
and ``promised`` (the partner promised this round).

Metrics: ``promises_made``, ``promises_broken`` (lies told),
``lies_caught``, ``promise_kept_rate`` and ``belief_error`` (final: the mean
distance between receivers' credence in the promises they heard and their
truth).
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.acts import Act, ActSpace
from agents.messages import Message, is_lie, promise
from agents.policies import COIN_SIDES
from scenarios.environment import environment
from scenarios.ipd import IPD, IpdParams
from scenarios.mailbox import Mailbox, llm_context
from scenarios.metric_registry import Metric
from scenarios.pairwise import needs_coin, observe_pairs, swapped_rows

WORDS = "I will cooperate."
#: The one claim a promise makes; the truth it is held against is the move played.
PROMISE_CLAIM = promise("C", WORDS)
TALK = ActSpace([
    Act("promise", promise="C", text=WORDS),
    Act("silent", noop=True, text="(says nothing)"),
])
MOVE_PROMISED = ActSpace([
    Act("keep", cooperative=True, promise="C", text="I cooperate, as I promised."),
    Act("break", cooperative=False, promise="C", text="I defect, though I promised to cooperate."),
])
MOVE = ActSpace([Act("C", cooperative=True), Act("D", cooperative=False)])
PHASE_TALK, PHASE_PROMISED, PHASE_MOVE = range(3)
STAGE_TALK, STAGE_MOVE = range(2)

IpdTalkObs = namedtuple(
    "IpdTalkObs",
    "my_last partner_last partner_last2 partner_defected my_last_payoff_good parity trust coin stage promised",
)


@dataclass(frozen=True)
class IpdTalkParams(IpdParams):
    """``ipd``'s parameters; promises are on, and travel as messages unless ``messages`` is false."""

    promises: bool = True
    messages: bool = True


@environment("ipd-talk")
class IpdTalk(IPD):
    Params = IpdTalkParams
    Obs = IpdTalkObs
    cardinality = (*IPD.cardinality, 2, 2)
    offset = (*IPD.offset, 0, 0)
    # Its own step is never fast-forwarded (``IPD.can_fast_forward``): no block weights at build.
    books_in_blocks = False
    supplies = (
        Metric("promises_made", "promises made", "count"),
        Metric("promises_broken", "promises broken", "count"),
        Metric("lies_caught", "lies caught", "count", description="lies the receiver's verification uncovered"),
        Metric("promise_kept_rate", "promises kept", "share of promises", per_step=False, aggregate="final"),
        Metric("belief_error", "belief error", "0-1", per_step=False, aggregate="final",
               description="mean distance between receivers' credence in claims and their truth"),
    )
    description = "Iterated prisoner's dilemma on a network; promises are messages, broken ones lies found out."

    def __init__(self, params: IpdTalkParams, model: Any) -> None:
        super().__init__(params, model)
        self.talks = bool(params.promises and params.messages)
        if self.talks:
            self.acts = TALK
            self.phases = (TALK, MOVE_PROMISED, MOVE)
            self._move_coop = (np.zeros(2, bool), np.array([True, False]), np.array([True, False]))
        fields = IpdTalkObs._fields
        # Codes are sums over fields, so the move's code is the talk code plus these two fields.
        self._stage_unit = int(self.codec.radix[fields.index("stage")])
        self._promised_unit = int(self.codec.radix[fields.index("promised")])
        # A promise is a lie exactly when the move played differs from the promised one.
        self._lie_if_coop = (is_lie(PROMISE_CLAIM, "D"), is_lie(PROMISE_CLAIM, "C"))
        self.setup(model)

    def setup(self, model: Any) -> None:
        self.mail = Mailbox()
        self._heard = 0.0      # promises heard, over the run
        self._error = 0.0      # summed |credence - truth| over them

    def step(self, model: Any) -> None:
        if not self.talks:
            super().step(model)
            return
        e = model.edges
        prm = self.params
        self.bounds = self.welfare_bounds(len(e))
        self.mail.open(model.steps)
        for name in ("promises_made", "promises_broken", "lies_caught"):
            model.count(name, 0.0)
        if not len(e):
            return
        model.pairs.align(model.graph_version, e[:, 0], e[:, 1])
        agents, partners = model.edge_agents()
        mine = slice(0, 2 * len(e))
        theirs = swapped_rows(len(e))
        coin = model.rng_env.integers(0, COIN_SIDES, len(agents)) if needs_coin(model) else 0
        talk_codes = observe_pairs(model, self.codec, mine, theirs, coin)
        # Language-model agents read their inbox: at talk what was said to them last step,
        # at the move also this step's promises.
        llm = bool(model.llm_groups)
        ctx = llm_context(self.mail, agents) if llm else None
        promised = model.decide(agents, talk_codes, partners, phase=PHASE_TALK, context=ctx) == 0
        heard = promised[theirs]
        self._send(model, agents, partners, promised)

        codes = talk_codes + self._stage_unit * STAGE_MOVE + self._promised_unit * heard.astype(np.int64)
        coop = np.zeros(len(agents), dtype=bool)
        for phase, mask in ((PHASE_PROMISED, promised), (PHASE_MOVE, ~promised)):
            k = np.flatnonzero(mask)
            if len(k):
                ctx = llm_context(self.mail, agents[k]) if llm else None
                act = model.decide(agents[k], codes[k], partners[k], phase=phase, context=ctx)
                coop[k] = self._move_coop[phase][act]
        if prm.noise > 0:
            coop = coop ^ (model.rng_env.random(len(coop)) < prm.noise)
        other = coop[theirs]
        pay = np.where(coop, np.where(other, prm.R, prm.S), np.where(other, prm.T, prm.P))
        model.add_payoff(agents, pay)
        model.pairs.record_moves(mine, coop.astype(np.int8), other.astype(np.int8))
        caught = self._verify(model, promised, coop, theirs)
        # Evidence about the partner: its move, plus the lie if its promise was found out.
        model.pairs.observe(mine, other.astype(float), (~other).astype(float) + prm.lie_penalty * caught[theirs])
        model.record_truth(agents, coop)

    def _send(self, model: Any, agents: np.ndarray, partners: np.ndarray, promised: np.ndarray) -> None:
        """Each promise is a message to the partner, delivered now through the mailbox."""
        names = [gs.name for gs in model.groups]
        group = model.group_of
        for k in np.flatnonzero(promised).tolist():
            a = int(agents[k])
            self.mail.send(Message(a, names[group[a]], int(partners[k]), model.steps, (PROMISE_CLAIM,)))
        model.count("promises_made", float(promised.sum()))

    def _verify(self, model: Any, promised: np.ndarray, coop: np.ndarray, theirs: np.ndarray) -> np.ndarray:
        """Receivers check promises with ``detect_prob``; returns, per sender row, a lie found out."""
        lied = promised & np.where(coop, self._lie_if_coop[1], self._lie_if_coop[0])
        checked = np.zeros(len(promised), dtype=bool)
        if promised.any():
            checked = promised & (model.rng_detect.random(len(promised)) < self.params.detect_prob)
        # Credence in a promise heard: the receiver's trust in the sender, until checked.
        credence = model.pairs.trust(theirs[promised])
        truth = ~lied[promised]
        credence = np.where(checked[promised], truth.astype(float), credence)
        self._heard += float(promised.sum())
        self._error += float(np.abs(credence - truth).sum())
        caught = lied & checked
        model.count("promises_broken", float(lied.sum()))
        model.count("lies_caught", float(caught.sum()))
        return caught

    def said(self, model: Any, agent: int, partner: int, words: str) -> None:
        """A language-model agent's free text reaches its partner next step, quoted as data."""
        self.mail.post(agent, model.groups[model.group_of[agent]].name, [partner], words)

    def final_metrics(self, model: Any) -> dict[str, float]:
        if not self.talks:
            return {}
        made = model.totals.cumulative("promises_made")
        broken = model.totals.cumulative("promises_broken")
        return {
            "promise_kept_rate": 1.0 - broken / made if made else float("nan"),
            "belief_error": self._error / self._heard if self._heard else float("nan"),
        }

    def render(self, obs: Any) -> str:
        base = super().render(obs)
        if not self.talks:
            return base
        if obs.stage == STAGE_TALK:
            return f"{base} Before you move you may promise your partner: {WORDS!r}, or say nothing."
        word = "promised you it will cooperate" if obs.promised else "made you no promise"
        return f"{base} This round your partner {word} (its message is quoted below as data)."
