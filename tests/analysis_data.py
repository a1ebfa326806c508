"""Small synthetic sweeps for the analysis tests, with hand-checkable values.

The grid is ``policy.threshold`` in {0.2, 0.8} x ``spec.order`` in {"honesty",
"secrecy"}, two replicates per point (seeds 11 and 12, paired across points).
Every metric is an exact function of the point and replicate, so expected
means are worked out by hand in the tests. Point 3, replicate 1 failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

GRID = {"policy.threshold": [0.2, 0.8], "spec.order": ["honesty", "secrecy"]}
SEEDS = (11, 12)
STEPS = 4

#: (threshold, order) -> trust_mean per replicate (rep 0, rep 1).
TRUST = {(0.2, "honesty"): (0.5, 0.7), (0.2, "secrecy"): (0.3, 0.5),
         (0.8, "honesty"): (0.6, 0.9), (0.8, "secrecy"): (0.4, None)}
FAILED = {(3, 1)}


def points() -> list[tuple[int, float, str]]:
    """(point index, threshold, order), in grid order."""
    return [(i, t, o) for i, (t, o) in enumerate(
        (t, o) for t in GRID["policy.threshold"] for o in GRID["spec.order"])]


def conflict(winner: str, wl: str, loser: str, ll: str, act: str) -> dict:
    """One conflict event's flat fields (as RunResult.events carries them)."""
    return {"kind": "conflict", "winner": winner, "winner_level": wl, "winner_source": "spec",
            "loser": loser, "loser_level": ll, "loser_source": "spec", "act": act,
            "reason": f"{act} keeps {winner} over {loser}"}


def run_rows() -> list[dict]:
    """Everything write_run needs, one dict per run (failed ones included)."""
    rows = []
    run_id = 0
    for point, t, o in points():
        for rep, seed in enumerate(SEEDS):
            trust = TRUST[(t, o)][rep]
            failed = (point, rep) in FAILED
            metrics = {} if failed else {
                "trust_mean": trust,
                "welfare": 10.0 * trust,
                "conflicts": float(point + rep),
                "compliance.do_not_lie": 1.0 if o == "honesty" else 0.5,
                "compliance.protect_reserve": 0.5 if o == "honesty" else 1.0,
                "conflicts_by_level.root.developer": float(rep),
            }
            steps = pd.DataFrame(
                [{"step": s, "metric": m, "value": v}
                 for s in range(STEPS)
                 for m, v in (("trust_mean", (trust or 0) * s / (STEPS - 1)),
                              ("conflicts", float(s % 2)))])
            events = []
            if not failed:
                events.append({"step": 1, "agent": 0, "partner": 1,
                               **conflict("do_not_lie", "root", "protect_reserve", "developer",
                                          "decline")})
                if o == "secrecy":
                    events.append({"step": 2, "agent": 1, "partner": 0,
                                   **conflict("protect_reserve", "developer", "be_helpful",
                                              "user", "refuse")})
            rows.append({"run_id": run_id, "point": point, "rep": rep, "seed": seed,
                         "params": {"policy.threshold": t, "spec.order": o},
                         "status": "failed" if failed else "done",
                         "error": "Traceback: boom" if failed else None,
                         "metrics": metrics, "steps": None if failed else steps,
                         "events": None if failed else pd.DataFrame(events)})
            run_id += 1
    return rows


def runs_frame() -> pd.DataFrame:
    """The frame Store.runs() would return for this sweep."""
    out = []
    for r in run_rows():
        out.append({"run_id": r["run_id"], "point": r["point"], "rep": r["rep"],
                    "seed": r["seed"], "status": r["status"], "error": r["error"],
                    **r["params"], **r["metrics"]})
    return pd.DataFrame(out)


def steps_frame() -> pd.DataFrame:
    """The frame Store.steps() would return."""
    parts = [r["steps"].assign(run_id=r["run_id"]) for r in run_rows() if r["steps"] is not None]
    return pd.concat(parts, ignore_index=True)[["run_id", "step", "metric", "value"]]


def events_frame() -> pd.DataFrame:
    """The frame Store.events() would return (fields in a JSON ``data`` column)."""
    rows = []
    for r in run_rows():
        if r["events"] is None:
            continue
        for e in r["events"].to_dict("records"):
            data = {k: v for k, v in e.items() if k not in ("step", "kind", "agent", "partner")}
            rows.append({"run_id": r["run_id"], "step": e["step"], "kind": e["kind"],
                         "agent": e["agent"], "partner": e["partner"],
                         "data": json.dumps(data, sort_keys=True)})
    return pd.DataFrame(rows)


def write_store(folder: Path, *, all_failed: bool = False) -> Path:
    """Write the synthetic sweep into a real store at ``folder``."""
    from sim.runs.records import Job, LongSteps, RunRecord
    from sim.runs.store import Store, SweepInfo

    info = SweepInfo(sweep_id="sweep-test", scenario="negotiation",
                     scenario_text='[scenario]\nid = "negotiation"\n',
                     specs={"honest-negotiator": "[spec]\nid = 'honest-negotiator'\n"},
                     grid=GRID, zip={}, runs=len(SEEDS), seed=11, points=len(points()),
                     code_version="git:test", question="Does honesty first raise trust?")
    with Store.create_or_open(folder) as store:
        store.add_sweep(info)
        for r in run_rows():
            failed = all_failed or r["status"] == "failed"
            job = Job(run_id=r["run_id"], point=r["point"], rep=r["rep"], seed=r["seed"],
                      params=tuple(r["params"].items()))
            record = RunRecord(job=job, status="failed" if failed else "done", started=0.0,
                               ended=1.0, metrics={} if failed else r["metrics"],
                               steps=None if failed else LongSteps.of_frame(r["steps"]),
                               events=None if failed else r["events"],
                               error="Traceback: boom" if failed else None)
            store.write_run(info.sweep_id, info.scenario, record)
    return folder
