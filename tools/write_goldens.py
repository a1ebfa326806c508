"""Write tests/data/golden_metrics.json: final metrics and event counts of every
shipped scenario (llm-negotiation aside: it needs a model server) at two seeds.

Written once before a refactor and checked by tests/test_goldens.py after it,
so a restructuring that changes any result, to the last bit, is caught.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

import sim
from sim.scenario import shipped

SEEDS = (1, 2)
SKIP = {"llm-negotiation"}
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "golden_metrics.json"


def goldens(only: Iterable[str] | None = None) -> dict[str, dict[str, dict[str, object]]]:
    """Final metrics, event and step-row counts of every shipped scenario (or ``only`` these)."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for sid in sorted(shipped() if only is None else only):
        if sid in SKIP:
            continue
        for seed in SEEDS:
            r = sim.run(sid, seed=seed)
            out.setdefault(sid, {})[str(seed)] = {
                "metrics": {k: r.metrics[k] for k in sorted(r.metrics)},
                "events": len(r.events),
                "steps_rows": len(r.steps),
            }
    return out


if __name__ == "__main__":
    OUT.write_text(json.dumps(goldens(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)
