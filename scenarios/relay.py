"""Orders relayed by language-model agents: the orders their declared claims carry, by recipient.

A language model's free-text ``message`` reaches its recipients at the next
step with the claims the model declared for it (``agents.llm_claims``). An
order among them is content like any other: an environment that lets agents
carry out orders treats it as an order from the sender's source, so the chain
of command judges it (a peer holds no authority) and, when it carries none,
it is an injection attempt, relayed by a model instead of planted by a
scripted adversary.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from agents.messages import Claim, Message


def relayed_orders(posted: Sequence[Message], agents: np.ndarray,
                   acts: Collection[str]) -> dict[int, list[tuple[Message, Claim]]]:
    """The orders in ``posted`` that name one of ``acts``, keyed by the recipient's index in ``agents``.

    Args:
        posted: messages agents said last step, delivered this step (``Mailbox.posted``).
        agents: the agents deciding this step (ids); orders to others are not theirs to carry out.
        acts: the order names the environment can carry out (an order for anything else is a
            claim to check, not an act anyone could do).

    Returns:
        index into ``agents`` -> (message, order) in the order they were sent.
    """
    where = {int(a): k for k, a in enumerate(agents.tolist())}
    out: dict[int, list[tuple[Message, Claim]]] = {}
    for msg in posted:
        k = where.get(int(msg.recipient))
        if k is None or msg.sender < 0:
            continue
        for o in msg.orders():
            if o.fact in acts:
                out.setdefault(k, []).append((msg, o))
    return out
