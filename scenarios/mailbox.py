"""Delivery of messages with content, and what receivers make of them.

An environment that lets agents talk keeps a :class:`Mailbox`: it sends
:class:`agents.messages.Message` values for this step, posts what an agent
said (a language model's free ``message``) for the next step, and hands each
recipient only what was actually sent to it. Language-model agents read their
inbox through :func:`llm_context`, every message quoted as data from its
source, never as an instruction.

A language model's own message carries the claims it declared
(``agents.llm_claims``); an environment that holds the truth checks them with
:func:`check_claims`: a lie is a claim that differs from the truth, and the
recipient finds it out with the scenario's probability.

Receivers weigh what they hear with :class:`Beliefs`: on hearing a claim a
receiver's credence in it is its trust in the sender; when the truth comes
out (verification, with the scenario's probability) the credence moves to
the truth and the sender earns Beta evidence: kept when its claims were
true, broken when one was a lie.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.messages import TOOL, Claim, Message, is_lie, text

if TYPE_CHECKING:
    from sim.model import SpecModel

#: A receiver's credence in a claim from a source it has no trust record of (a tool).
PRIOR = 0.5


class Mailbox:
    """Messages due this step, by recipient, and what was said for the next step."""

    def __init__(self) -> None:
        self._now: dict[int, list[Message]] = {}
        self._later: list[Message] = []
        self._posted: tuple[Message, ...] = ()
        self.step = -1

    def open(self, step: int) -> None:
        """Start ``step``: what was said last step is delivered now, the rest is gone."""
        self.step = step
        self._now = {}
        later, self._later = self._later, []
        self._posted = tuple(later)
        for m in later:
            self._now.setdefault(m.recipient, []).append(m)

    def send(self, msg: Message) -> None:
        """Deliver ``msg`` now (the environment's messages of this step)."""
        self._now.setdefault(msg.recipient, []).append(msg)

    def post(self, sender: int, source: str, recipients: Sequence[int], words: str,
             claims: Sequence[Claim] = ()) -> None:
        """What ``sender`` said, delivered to each of ``recipients`` at the next step.

        ``claims`` are what the sender declared its words assert (``agents.llm_claims``):
        they travel with the words, for the environment to check; recipients read the words.
        """
        said = ((text(words),) if words.strip() else ()) + tuple(claims)
        if not said:
            return
        for r in recipients:
            self._later.append(Message(int(sender), source, int(r), self.step, said))

    def posted(self) -> tuple[Message, ...]:
        """The messages agents said last step, delivered this step (not the environment's own)."""
        return self._posted

    def inbox(self, recipient: int) -> tuple[Message, ...]:
        """Every message delivered to ``recipient`` this step, in the order sent."""
        return tuple(self._now.get(int(recipient), ()))


def llm_context(mailbox: Mailbox, agents: np.ndarray) -> Callable[[int], dict[str, Any]]:
    """``context(k)`` for ``model.decide``: the k-th agent's inbox as quoted data.

    Peers' messages become ``peer_messages`` (source, text), tool output
    ``tool_data``; both are fenced as data without authority in the prompt.
    """

    def context(k: int) -> dict[str, Any]:
        peers, tools = [], []
        for m in mailbox.inbox(int(agents[k])):
            if m.channel == "tool" or m.source == TOOL:
                tools.append(m.text)
            else:
                who = m.source if m.sender < 0 else f"{m.source} (agent {m.sender})"
                peers.append((who, m.text))
        return {"peer_messages": tuple(peers), "tool_data": tuple(tools)}

    return context


#: What ``truth`` in :func:`check_claims` returns for a claim the environment cannot check.
UNKNOWN: Any = None

#: Claims an environment checks: what agents declared, not their free text or documents.
CHECKED = ("value", "promise", "order")


@dataclass(frozen=True, slots=True)
class Verdict:
    """One declared claim checked against the truth.

    Attributes:
        message: the message that carried it.
        claim: the claim.
        truth: what the environment holds (for an order, the authority its source has).
        lie: the claim differs from the truth.
        caught: the recipient verified it (with the scenario's probability) and so learnt the truth.
    """

    message: Message
    claim: Claim
    truth: Any
    lie: bool
    caught: bool

    def event(self) -> dict[str, Any]:
        """The record of the check, for the run's events table (a ``claim`` event)."""
        c = self.claim
        said = str(c.claimed) if c.kind == "order" else c.value
        return {"recipient": self.message.recipient, "sent": self.message.step, "claim": c.kind,
                "fact": c.fact, "said": said, "truth": str(self.truth), "lie": self.lie,
                "caught": self.caught}


def check_claims(model: SpecModel, beliefs: Beliefs, messages: Sequence[Message],
                 truth: Callable[[Message, Claim], Any], verify_prob: float) -> list[Verdict]:
    """Check the declared claims of agents' ``messages`` against ``truth(message, claim)``.

    A recipient hears every claim the environment can check (``truth`` not
    :data:`UNKNOWN`) with a credence equal to its trust in the sender; with
    probability ``verify_prob`` (one draw per message, from ``model.rng_detect``)
    it verifies them: its credence moves to the truth and the sender earns Beta
    evidence, broken after a lie (:meth:`Beliefs.verify`). Each check is logged
    as a ``claim`` event; every sender checked counts towards trust calibration.
    """
    out: list[Verdict] = []
    for msg in messages:
        if msg.sender < 0:
            continue
        claims = [(c, t) for c in msg.claims if c.kind in CHECKED
                  if (t := truth(msg, c)) is not UNKNOWN]
        if not claims:
            continue
        beliefs.hear(model, msg, claims)
        caught = bool(model.rng_detect.random() < verify_prob)
        if caught:
            beliefs.verify(model, msg, claims)
        for c, t in claims:
            out.append(Verdict(msg, c, t, is_lie(c, t), caught))
    for v in out:
        model.log.script(model.steps, "claim", v.message.sender, v.event())
    if out:
        liars: dict[int, bool] = {}
        for v in out:
            liars[v.message.sender] = liars.get(v.message.sender, False) or v.lie
        who = np.array(list(liars), dtype=np.int64)
        model.record_truth(who, ~np.array(list(liars.values()), dtype=bool))
    return out


class Beliefs:
    """Receivers' credence in the claims they heard, and verification of them.

    Credences are kept per (receiver, sender, fact): a run holds one per
    claim topic and pair that ever spoke, not one per message.
    """

    def __init__(self) -> None:
        self.credence: dict[tuple[int, int, str], float] = {}
        self.truth: dict[tuple[int, int, str], bool] = {}

    def hear(self, model: SpecModel, msg: Message, claims: Sequence[tuple[Claim, Any]]) -> None:
        """``msg.recipient`` hears ``claims`` (each with its truth): credence = trust in the sender."""
        trust = PRIOR if msg.sender < 0 else model.trust_in(msg.recipient, msg.sender)
        for c, truth in claims:
            key = (msg.recipient, msg.sender, c.fact)
            self.credence[key] = trust
            self.truth[key] = not is_lie(c, truth)

    def verify(self, model: SpecModel, msg: Message, claims: Sequence[tuple[Claim, Any]]) -> bool:
        """The truth of ``claims`` comes out to the recipient; returns whether any was a lie.

        The recipient's credence moves to the truth, and a sending agent earns
        one piece of Beta evidence: broken if it lied, kept otherwise.
        """
        lied = False
        for c, truth in claims:
            false = is_lie(c, truth)
            lied = lied or false
            self.credence[(msg.recipient, msg.sender, c.fact)] = 0.0 if false else 1.0
        if msg.sender >= 0:
            rows = model.pairs.index(np.array([msg.recipient]), np.array([msg.sender]))
            model.pairs.observe(rows, np.array([float(not lied)]), np.array([float(lied)]))
        return lied

    def error(self) -> float:
        """Mean distance between credence and truth over every claim heard (NaN: none)."""
        if not self.credence:
            return float("nan")
        return float(np.mean([abs(v - self.truth[k]) for k, v in self.credence.items()]))
