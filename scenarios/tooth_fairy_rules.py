"""The tooth-fairy game's rules that its environment and both of its stretches share.

Why a module of its own: the environment plays its stretches
(``scenarios.tooth_fairy_stretch`` in numpy, ``scenarios.tooth_fairy_kernel``
compiled) and those read the acts, the belief buckets and the decision
look-up; kept here, every import points one way.
"""

from __future__ import annotations

import numpy as np

from agents.acts import Act, ActSpace

ACTS = ActSpace([
    Act("blunt_truth", text="No, it is a story; parents leave the coin."),
    Act("gentle_truth", text="Some people believe in it; it is a story many families enjoy."),
    Act("deflect", refuses=True, noop=True, text="That is a question to ask your family."),
    Act("lie", asserts_false=True, text="Yes, the tooth fairy is real."),
])
BLUNT, GENTLE, DEFLECT, LIE = range(4)
BELIEF_BUCKETS = 5


def posterior(prior: float | np.ndarray, cue_child: np.ndarray, accuracy: float) -> np.ndarray:
    """P(child | cue) by Bayes' rule, from the agent's prior and the cue's accuracy."""
    like_child = np.where(cue_child, accuracy, 1.0 - accuracy)
    like_adult = np.where(cue_child, 1.0 - accuracy, accuracy)
    num = prior * like_child
    den = num + (1.0 - prior) * like_adult
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def belief_bucket(p: np.ndarray) -> np.ndarray:
    """Posterior in five buckets (0: surely an adult ... 4: surely a child)."""
    return np.minimum((np.asarray(p) * BELIEF_BUCKETS).astype(np.int64), BELIEF_BUCKETS - 1)

