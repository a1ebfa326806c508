"""Decisions of language-model groups: asked concurrently per group, then audited or enforced.

Rule-based decisions are table look-ups (``sim.decisions``); a language
model's are not pure, so each one is a request. The resolver's choice is
the fallback when the model's answer is unusable, and in ``enforce`` mode
it replaces a violating act (logged as ``blocked``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.llm import DecisionRequest, audit_choice

if TYPE_CHECKING:
    from sim.model import SpecModel


def llm_choices(model: SpecModel, agents: np.ndarray, codes: np.ndarray, phase: int, cells: np.ndarray,
                chosen: np.ndarray, context: Callable[[int], dict[str, Any]] | None,
                partners: np.ndarray | None = None) -> np.ndarray:
    """``chosen`` with the decisions of language-model agents replaced by their models' acts.

    What a model says with its act (its free ``message``) goes to the environment
    (``Environment.said``), which delivers it to its recipients as data; in an
    environment with ``facts``, with the claims the model declared for it.
    """
    sel = np.flatnonzero(np.isin(model.group_of[agents], list(model.llm_groups)))
    if len(sel) == 0:
        return chosen
    acts = model.phases[phase]
    codec = model.env.codec
    reqs = []
    for k in sel.tolist():
        i = int(agents[k])
        obs = codec.decode(int(codes[k]))
        extra = context(k) if context is not None else {}
        reqs.append(DecisionRequest(
            agent=i, group=model.groups[model.group_of[i]].name, step=model.steps,
            binding=model.binding_of(i), acts=acts, candidates=tuple(range(len(acts))),
            observation=model.env.render(obs) + (model.memory.render(i) if model.memory else ""),
            peer_messages=tuple(extra.get("peer_messages", ())),
            tool_data=tuple(extra.get("tool_data", ())),
            fallback=int(model.decisions.full[cells[k]]),
            facts=model.env.facts,
        ))
    by_group: dict[int, list[int]] = {}
    for n_, k in enumerate(sel.tolist()):
        by_group.setdefault(int(model.group_of[agents[k]]), []).append(n_)
    chosen = chosen.copy()
    for g, idx in by_group.items():
        gs = model.groups[g]
        answers = gs.policy.choose_many([reqs[n_] for n_ in idx])
        for n_, ans in zip(idx, answers, strict=True):
            k = int(sel[n_])
            act = int(ans.act)
            for ev in ans.events:
                model.log.script(model.steps, str(ev.get("kind", "llm")), int(agents[k]), dict(ev))
            obs = codec.decode(int(codes[k]))
            # The resolver's choice with the model's act ranked first: it keeps the
            # model's act whenever the rules allow, so enforcement changes no more than it must.
            ranking = (act, *(i for i in range(len(acts)) if i != act))
            resolved = reqs[n_].binding.decide(obs, acts, ranking).act
            replace = audit_choice(reqs[n_].binding, obs, acts, act, resolved, gs.mode)
            if replace is not None:
                model.log.script(model.steps, "blocked", int(agents[k]), {
                    "act": acts[act].name, "replaced_by": acts[replace].name})
                act = replace
            chosen[k] = act
            if ans.ok and (ans.message.strip() or ans.claims):
                partner = -1 if partners is None else int(partners[k])
                if model.env.facts:  # an environment that checks claims takes them with the words
                    model.env.said(model, int(agents[k]), partner, ans.message, claims=ans.claims)
                else:
                    model.env.said(model, int(agents[k]), partner, ans.message)
    return chosen
