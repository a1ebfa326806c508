"""Spec incident: a trigger on emergent deceptions patches the spec; when and whether it fires varies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.runs.run import run
from tests.findings import SEEDS, excludes_zero, vanishes

SHIPPED = Path(__file__).resolve().parent.parent / "scenarios" / "spec-incident.toml"
TRIGGER = 'when = { metric = "deceptions", above = 55, window = 5 }'


def _fired(r, kind: str) -> list[int]:
    return r.events[r.events.kind == kind].step.tolist()


def test_patch_fires_the_step_after_the_window_mean_crosses() -> None:
    r = run("spec-incident", seed=1, set={"steps": 20, "environment.detect_prob": 0.2})
    (patched,) = _fired(r, "patch_spec")
    d = r.steps["deceptions"].to_numpy()
    means = np.convolve(d, np.ones(5) / 5, mode="valid")  # means[k]: steps k+1 .. k+5
    first = int(np.flatnonzero(means > 55)[0]) + 5       # the step that completed the window
    assert patched == first + 1
    detail = json.loads(r.events[r.events.kind == "patch_spec"].detail.iloc[0])
    assert detail["set"]["principles.do_not_lie.level"] == "root"


def test_lies_stop_after_the_patch() -> None:
    r = run("spec-incident", seed=2, set={"steps": 20, "environment.detect_prob": 0.2})
    (patched,) = _fired(r, "patch_spec")
    lies = r.steps["lies_caught"]
    assert r.metrics["deceptions.after_patch"] < r.metrics["deceptions.before_patch"]
    assert r.steps["covert_acts"][r.steps.index >= patched].sum() == 0
    assert lies[lies.index < patched].sum() > 0


# Counterfactual: small populations, 20 seeds, the threshold scaled to a quarter of the asks.
SMALL = {"steps": 25, "groups.buyers.count": 4, "groups.sellers.count": 4, "environment.detect_prob": 0.2}


def _scenario(tmp_path: Path, patched: bool) -> Path:
    text = SHIPPED.read_text()
    assert TRIGGER in text
    above = 14 if patched else 1e9  # 1e9: the trigger never fires (no patch)
    out = tmp_path / f"incident-{patched}.toml"
    out.write_text(text.replace(TRIGGER, f'when = {{ metric = "deceptions", above = {above}, window = 5 }}'))
    return out


def _drop(series: np.ndarray, at: int) -> float:
    """Mean deceptions per step from step ``at`` on, minus the mean before it (steps count from 1)."""
    return float(series[at - 1:].mean() - series[: at - 1].mean())


@pytest.mark.slow
def test_deceptions_fall_after_the_patch_and_without_it_they_do_not(tmp_path: Path) -> None:
    """Paired by seed: the same run with and without the patch is identical until it fires.
    With the patch deceptions per step fall after it (95% CI of the drop below 0); without
    it, the same split shows no fall (the drop is not regression after a high window)."""
    with_patch, without = _scenario(tmp_path, True), _scenario(tmp_path, False)
    drops, placebo = [], []
    for s in range(20):
        a = run(str(with_patch), seed=s, set=SMALL)
        at = a.metrics.get("patch_step")
        if at is None or at >= SMALL["steps"]:
            continue
        b = run(str(without), seed=s, set=SMALL)
        drops.append(_drop(a.steps["deceptions"].to_numpy(), int(at)))
        placebo.append(_drop(b.steps["deceptions"].to_numpy(), int(at)))
    assert len(drops) >= 15
    d, p = np.array(drops), np.array(placebo)
    half_d, half_p = (1.96 * x.std(ddof=1) / np.sqrt(len(x)) for x in (d, p))
    assert d.mean() + half_d < 0     # measured: -6.4 +- 0.7 deceptions per step
    assert p.mean() + half_p > 0     # measured: +2.2 +- 0.6: without the patch they keep climbing


def _runs(path: Path, detect: float, **extra: object) -> tuple[list[float | None], np.ndarray]:
    """Per seed: the patch step (None: never patched) and the run's deceptions."""
    rs = [run(str(path), seed=s, set={**SMALL, "environment.detect_prob": detect, **extra}) for s in SEEDS]
    return [r.metrics.get("patch_step") for r in rs], np.array([r.metrics["deceptions"] for r in rs])


def test_whether_and_when_the_patch_fires_depends_on_what_agents_learn(tmp_path: Path) -> None:
    """20 seeds, 4 + 4 agents, 25 steps, the threshold scaled to 14. Agents that learn they are
    seldom caught trip the trigger; agents that learn to refuse never do. Measured: fires in 20
    of 20 runs at detection 0.2 (steps 6-13), 15 of 20 at 0.35 (steps 7-17), 0 of 20 at 0.8.
    Counterfactual: agents that keep their prior risk (``learn_risk = false``) never reach the
    threshold, and detection changes nothing, not one deception."""
    path = _scenario(tmp_path, True)
    weak, _ = _runs(path, 0.2)
    middling, _ = _runs(path, 0.35)
    strong, _ = _runs(path, 0.8)
    fired = {d: np.array([p is not None for p in ps], dtype=float)
             for d, ps in ((0.2, weak), (0.35, middling), (0.8, strong))}
    assert excludes_zero(fired[0.2] - fired[0.8]) and fired[0.2].mean() > fired[0.8].mean()
    assert fired[0.2].all() and not fired[0.8].any()
    assert excludes_zero(fired[0.2] - fired[0.35])      # some seeds never trip it at 0.35 ...
    assert len({p for p in middling if p is not None}) > 3  # ... the rest at steps that vary by seed
    still_weak, d_weak = _runs(path, 0.2, **{"environment.learn_risk": False})
    still_strong, d_strong = _runs(path, 0.8, **{"environment.learn_risk": False})
    off = np.array([p is not None for p in still_weak], dtype=float) - [p is not None for p in still_strong]
    assert vanishes(off) and still_weak == [None] * len(SEEDS)
    assert np.array_equal(d_weak, d_strong)
