"""Final metrics broken down by authority level and by group.

``compliance_rate`` weighs every (decision, applicable principle) check the
same, so a spec with many guideline checks can hide system-level violations
behind a high rate. These metrics tell specs apart where it cannot:

- ``compliance.level.<level>``: compliance over the principles of one level
  (root, system, developer, user, guideline), where any applied;
- ``compliance_weighted``: compliance with each check weighted by its level,
  doubling per level (guideline 1, user 2, developer 4, system 8, root 16), so
  one system-level violation costs as much as eight guideline ones;
- per group ``deceptions.<group>``, ``covert_acts.<group>``,
  ``injections_obeyed.<group>`` (acts that carried out an injected order) and
  ``compliance.group.<group>`` (``group`` in the name keeps a group apart from a
  principle of the same name).

All are pure functions of the run's cumulative outcome counts: every decision
outcome belongs to one group (its decider's) and each compliance row records
the principle's level when the outcome was made, so a patched level counts at
the level it had when the act was chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agents.spec import Level

if TYPE_CHECKING:
    from sim.model import SpecModel

#: Weight of a check at each level in ``compliance_weighted`` (index = level value).
LEVEL_WEIGHTS = np.array([0.0 if lv == Level.NONE else 2.0 ** (int(lv) - 1) for lv in Level])
#: Per-group counts: metric name -> outcome column counted.
GROUP_COUNTS = (("deceptions", "deception"), ("covert_acts", "covert"), ("injections_obeyed", "injected"))


#: Per ``GROUP_COUNTS`` entry, its metric name per group and the group's index, by the groups'
#: (name, index): 36 names formatted per run were a tenth of a round robin's final metrics.
_Names = tuple[tuple[tuple[str, ...], tuple[int, ...]], ...]
_NAMES: dict[tuple[tuple[str, int], ...], _Names] = {}
_MAX_NAMES = 64


def breakdown(model: SpecModel, outcomes: np.ndarray) -> dict[str, float]:
    """Per-level and per-group final metrics from cumulative counts per decision outcome."""
    n_out = model.decisions.n_outcomes
    n = min(len(outcomes), n_out)
    counts = np.zeros(n_out)
    counts[:n] = outcomes[:n]
    out: dict[str, float] = {}
    col = model.decisions.outcome_column
    groups = col("group")[: len(counts)]
    ng = len(model.groups)
    for (_, column), (keys, index) in zip(GROUP_COUNTS, _group_names(model), strict=True):
        flags = col(column)[: len(counts)]
        if np.count_nonzero(flags):  # (``any`` of int8 flags casts them first: 5x slower)
            per = np.bincount(groups, weights=counts * flags, minlength=ng).tolist()
            out.update(zip(keys, [per[g] for g in index], strict=True))
        else:  # no outcome of the kind: every group's sum of zero products is 0.0
            out.update(dict.fromkeys(keys, 0.0))
    c = model.decisions.compliance_rows()
    if not len(c["outcome"]):
        return out
    w = counts[c["outcome"]]
    held = c["held"]
    nl = len(Level)
    applied_l = np.bincount(c["level"], weights=w, minlength=nl)
    held_l = np.bincount(c["level"], weights=w * held, minlength=nl)
    for lv in Level:
        if lv != Level.NONE and applied_l[lv] > 0:
            out[f"compliance.level.{lv}"] = float(held_l[lv] / applied_l[lv])
    weighted = float((LEVEL_WEIGHTS * applied_l).sum())
    if weighted > 0:
        out["compliance_weighted"] = float((LEVEL_WEIGHTS * held_l).sum()) / weighted
    g = groups[c["outcome"]]
    applied_g = np.bincount(g, weights=w, minlength=ng)
    held_g = np.bincount(g, weights=w * held, minlength=ng)
    for gs in model.groups:
        if applied_g[gs.index] > 0:
            out[f"compliance.group.{gs.name}"] = float(held_g[gs.index] / applied_g[gs.index])
    return out


def _group_names(model: SpecModel) -> _Names:
    """Per ``GROUP_COUNTS`` entry, each group's metric name and index, in the groups' order."""
    key = tuple([(gs.name, gs.index) for gs in model.groups])
    names = _NAMES.get(key)
    if names is None:
        if len(_NAMES) >= _MAX_NAMES:
            _NAMES.clear()
        index = tuple(i for _, i in key)
        names = _NAMES[key] = tuple((tuple(f"{name}.{g}" for g, _ in key), index) for name, _ in GROUP_COUNTS)
    return names
