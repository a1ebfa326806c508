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

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.messages import TOOL, Claim, Message, is_lie, text
from agents.uniques import runs

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
    claim topic and pair that ever spoke, not one per message. They live in
    arrays, in the order first heard, under integer keys (receiver, sender,
    fact code), so an environment can record a step's claims in one call
    (:meth:`learn`) where hearing them one message at a time costs ~10 us each.
    """

    #: Key layout: receiver, sender + 1 (-1 is a tool or outside principal) and fact code.
    _SENDERS = 1 << 24
    _FACTS = 1 << 15

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._facts: list[str] = []
        self._keys = np.zeros(0, dtype=np.int64)  # sorted
        self._slot = np.zeros(0, dtype=np.int64)  # position (first heard) of each sorted key
        self._cred = np.zeros(0)
        self._true = np.zeros(0, dtype=bool)

    def fact_code(self, fact: str) -> int:
        """The integer that stands for ``fact`` in :meth:`learn`."""
        code = self._codes.get(fact)
        if code is None:
            if len(self._facts) >= self._FACTS:
                raise ValueError(f"beliefs: more than {self._FACTS} distinct facts")
            code = self._codes[fact] = len(self._facts)
            self._facts.append(fact)
        return code

    def knows(self, fact: str) -> bool:
        """Whether ``fact`` has its code already (:meth:`fact_code` would not make one)."""
        return fact in self._codes

    def learn(self, recipients: np.ndarray, senders: np.ndarray, facts: np.ndarray, credence: np.ndarray,
              true: np.ndarray | None = None) -> None:
        """Recipients now hold ``credence`` in their senders' claims about ``facts`` (codes).

        Rows are in the order heard; where a (recipient, sender, fact) repeats, the last row
        counts, as if they were heard one after another. ``true``: whether each claim is
        true (None: keep what was recorded when it was heard).
        """
        if "numba" in sys.modules and self._learn_compiled(recipients, senders, facts, credence, true):
            return
        r = np.asarray(recipients, dtype=np.int64)
        s = np.asarray(senders, dtype=np.int64) + 1
        if len(r) and (int(r.max()) >= self._SENDERS or int(s.max()) >= self._SENDERS or int(r.min()) < 0
                       or int(s.min()) < 0):
            raise ValueError(f"beliefs: agent ids must lie in [0, {self._SENDERS})")
        keys = (r * self._SENDERS + s) * self._FACTS + np.asarray(facts, dtype=np.int64)
        uniq, first, last = runs(keys)
        pos = np.searchsorted(self._keys, uniq)
        found = pos < len(self._keys)
        found[found] = self._keys[pos[found]] == uniq[found]
        slots = np.empty(len(uniq), dtype=np.int64)
        slots[found] = self._slot[pos[found]]
        new = np.flatnonzero(~found)
        if len(new):
            # New keys take the next positions in the order first heard.
            fresh = np.empty(len(new), dtype=np.int64)
            fresh[np.argsort(first[new], kind="stable")] = len(self._cred) + np.arange(len(new))
            slots[new] = fresh
            self._keys = np.insert(self._keys, pos[new], uniq[new])
            self._slot = np.insert(self._slot, pos[new], fresh)
            self._cred = np.concatenate([self._cred, np.zeros(len(new))])
            self._true = np.concatenate([self._true, np.zeros(len(new), dtype=bool)])
        self._cred[slots] = np.asarray(credence, dtype=float)[last]
        if true is not None:
            self._true[slots] = np.asarray(true, dtype=bool)[last]

    def _learn_compiled(self, recipients: np.ndarray, senders: np.ndarray, facts: np.ndarray, credence: np.ndarray,
                        true: np.ndarray | None) -> bool:
        """:meth:`learn` in a few compiled passes (``scenarios.beliefs_kernel``), once a kernel run
        has loaded numba anyway: the same arrays. False: an id outside the key layout, nothing
        changed (numpy's path then says so)."""
        from scenarios.beliefs_kernel import learn

        out = learn(self._keys, self._slot, self._cred, self._true, np.asarray(recipients, dtype=np.int64),
                    np.asarray(senders, dtype=np.int64), np.asarray(facts, dtype=np.int64),
                    np.asarray(credence, dtype=float), np.zeros(0, dtype=bool) if true is None
                    else np.asarray(true, dtype=bool), true is not None, self._SENDERS, self._FACTS)
        if not out[0]:
            return False
        self._keys, self._slot, self._cred, self._true = out[1:]
        return True

    def _learn_claims(self, msg: Message, claims: Sequence[tuple[Claim, Any]], credence: list[float],
                      true: list[bool] | None) -> None:
        n = len(claims)
        self.learn(np.full(n, msg.recipient), np.full(n, msg.sender),
                   np.array([self.fact_code(c.fact) for c, _ in claims], dtype=np.int64),
                   np.array(credence, dtype=float), None if true is None else np.array(true, dtype=bool))

    def hear(self, model: SpecModel, msg: Message, claims: Sequence[tuple[Claim, Any]]) -> None:
        """``msg.recipient`` hears ``claims`` (each with its truth): credence = trust in the sender."""
        trust = PRIOR if msg.sender < 0 else model.trust_in(msg.recipient, msg.sender)
        self._learn_claims(msg, claims, [trust] * len(claims), [not is_lie(c, t) for c, t in claims])

    def verify(self, model: SpecModel, msg: Message, claims: Sequence[tuple[Claim, Any]]) -> bool:
        """The truth of ``claims`` comes out to the recipient; returns whether any was a lie.

        The recipient's credence moves to the truth, and a sending agent earns
        one piece of Beta evidence: broken if it lied, kept otherwise.
        """
        false = [is_lie(c, t) for c, t in claims]
        lied = any(false)
        self._learn_claims(msg, claims, [0.0 if f else 1.0 for f in false], None)
        if msg.sender >= 0:
            rows = model.pairs.index(np.array([msg.recipient]), np.array([msg.sender]))
            model.pairs.observe(rows, np.array([float(not lied)]), np.array([float(lied)]))
        return lied

    def _in_order(self) -> list[tuple[int, int, str]]:
        keys = np.empty(len(self._keys), dtype=np.int64)
        keys[self._slot] = self._keys
        fact = keys % self._FACTS
        pair = keys // self._FACTS
        out = [(r, s - 1, self._facts[f]) for r, s, f in
               zip((pair // self._SENDERS).tolist(), (pair % self._SENDERS).tolist(), fact.tolist(), strict=True)]
        return out

    @property
    def credence(self) -> dict[tuple[int, int, str], float]:
        """(receiver, sender, fact) -> credence, in the order first heard."""
        return dict(zip(self._in_order(), self._cred.tolist(), strict=True))

    @property
    def truth(self) -> dict[tuple[int, int, str], bool]:
        """(receiver, sender, fact) -> whether the claim heard was true, in the order first heard."""
        return dict(zip(self._in_order(), self._true.tolist(), strict=True))

    def error(self) -> float:
        """Mean distance between credence and truth over every claim heard (NaN: none)."""
        if not len(self._cred):
            return float("nan")
        return float(np.mean(np.abs(self._cred - self._true)))
