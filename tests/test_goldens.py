"""Every shipped scenario gives the final metrics pinned in tests/data/golden_metrics.json.

The file was written by tools/write_goldens.py before the engine was restructured;
a change that alters any result must regenerate it on purpose and say why.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tools.write_goldens import SEEDS, goldens

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_metrics.json").read_text())


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.mark.parametrize("sid", sorted(GOLDEN))
def test_scenario_matches_golden(sid: str) -> None:
    # One scenario a test: a cold numba cache compiles each scenario's kernels within its own
    # test's time limit, not every kernel within one fixture's.
    current = goldens(only=[sid])
    for seed in SEEDS:
        want, got = GOLDEN[sid][str(seed)], current[sid][str(seed)]
        assert got["events"] == want["events"], (sid, seed)
        assert got["steps_rows"] == want["steps_rows"], (sid, seed)
        assert sorted(got["metrics"]) == sorted(want["metrics"]), (sid, seed)
        diff = {k: (want["metrics"][k], v) for k, v in got["metrics"].items()
                if not _same(v, want["metrics"][k])}
        assert not diff, (sid, seed, diff)
