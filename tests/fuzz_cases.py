"""Generated hostile inputs for every command, and the property each must satisfy.

Shared by ``tests/test_fuzz.py`` (a few thousand cases inside ``make test``) and
``make fuzz`` (``python -m tests.fuzz_cases N``, a longer run). A case is an argv
list run in-process through the real command line; the property: exit 0, 1 or 2,
never a traceback, a refusal (exit 2) is one line, and a refused command leaves
nothing behind in the folder it was pointed at.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
SPECS = sorted((ROOT / "scenarios" / "specs").glob("*.toml"))

#: Values a hostile user types where a number, string or table is expected.
HOSTILE = (
    "nan", "inf", "-inf", "-1", "0", "1", "2", "0.5", "-0.5", "1e308", "-1e308",
    str(2**63), str(2**64), str(10**12), str(-(2**63) - 1), "1180591620717411303424",
    '"x"', '""', "true", "[]", "{}", '["join"]', "[1, 2]", '{ a = 1 }', "[[[[[[1]]]]]]",
    "[" * 200 + "]" * 200, '"' + "a" * 300 + '"', "1979-05-27", "'\\u0000'",
)
#: Same, as command-line arguments (raw text, no TOML quoting).
HOSTILE_ARGS = (
    "-1", "0", "1", "3", "nan", "inf", "1e999", str(2**63), "1180591620717411303424", "x",
    "", "-0", "0x10", "1.5", "--", "\x00", "ü", "9" * 400,
)


@dataclass(frozen=True)
class Outcome:
    """What one command did."""

    code: int
    out: str
    err: str


def invoke(argv: list[str]) -> Outcome:
    """Run ``specbound argv`` in this process; SystemExit and any escape are captured."""
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code: object
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
        except BaseException as e:
            import traceback

            err.write("".join(traceback.format_exception(e)))
            code = -1
    return Outcome(int(code), out.getvalue(), err.getvalue())  # type: ignore[arg-type]


def problems(argv: list[str], result: Outcome, before: set[str] | None = None,
             folder: Path | None = None) -> list[str]:
    """What is wrong with ``result`` (empty when the property holds)."""
    bad = []
    if result.code not in (0, 1, 2):
        bad.append(f"exit {result.code}")
    if "Traceback (most recent call last)" in result.err or "Traceback" in result.out:
        bad.append("traceback")
    if "specbound: internal error" in result.err:  # a traceback caught by the last resort
        bad.append("internal error")
    if result.code == 2:
        lines = [ln for ln in result.err.splitlines() if ln.strip()]
        if len(lines) != 1:
            bad.append(f"{len(lines)} lines on a refusal")
        elif lines[0].count("specbound:") > 1:
            bad.append("'specbound:' repeated")
        if folder is not None and before is not None:
            after = listing(folder)
            if after != before:
                bad.append(f"left behind: {sorted(after - before) or sorted(before - after)}")
    if bad:
        return [f"{' '.join(map(repr, argv))[:300]}: {', '.join(bad)}\n{result.err[-2000:]}"]
    return []


def listing(folder: Path) -> set[str]:
    """Every path under ``folder`` (relative), to see what a command left behind."""
    if not folder.exists():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --- scenario files -----------------------------------------------------------------------

_ASSIGN = re.compile(r"^(\s*)([A-Za-z0-9_.\"-]+)(\s*=\s*)(.+)$")


def mutate_scenario(text: str, rng: random.Random) -> str:
    """One hostile edit of a scenario text: a value replaced, a line duplicated or dropped, a shape changed."""
    lines = text.splitlines()
    assigns = [i for i, ln in enumerate(lines) if _ASSIGN.match(ln)]
    choice = rng.random()
    if assigns and choice < 0.7:
        i = rng.choice(assigns)
        m = _ASSIGN.match(lines[i])
        assert m is not None
        lines[i] = f"{m.group(1)}{m.group(2)}{m.group(3)}{rng.choice(HOSTILE)}"
    elif choice < 0.8 and lines:
        i = rng.randrange(len(lines))
        del lines[i]
    elif choice < 0.9:
        key = rng.choice(["scenario", "groups", "events", "network", "environment", "sweep", "steps"])
        lines.insert(0, f"{key} = {rng.choice(HOSTILE)}")
    else:
        lines.append(rng.choice([
            '[[events]]\nat = 1\ntype = ["join"]',
            '[[events]]\nat = 1\ntype = "join"\ngroup = "nope"',
            '[[events]]\nat = 1\ntype = "leave"\ncount = 9223372036854775807',
            f'[[events]]\nwhen = {{ metric = "welfare", above = {rng.choice(["nan", "inf", "1"])} }}\n'
            'type = "shock"\nset = { }',
            "[sweep]\nruns = 0",
            '[network.rewire]\nbelow = nan\nevery = 1',
        ]))
    return "\n".join(lines) + "\n"


def scenario_cases(rng: random.Random, tmp: Path, n: int) -> Iterator[list[str]]:
    """``run FILE --steps 2`` on ``n`` mutated shipped scenarios."""
    for k in range(n):
        src = rng.choice(SCENARIOS)
        if "llm" in src.name:
            continue  # needs a model server; covered by tests/test_llm_preflight.py
        path = tmp / f"scenario-{k}.toml"
        path.write_text(mutate_scenario(src.read_text(), rng))
        yield ["run", str(path), "--steps", "2"]


def override_cases(rng: random.Random, n: int) -> Iterator[list[str]]:
    """``run SCENARIO --set PATH=V`` with hostile paths and values."""
    paths = ["steps", "environment.growth", "environment.detect_prob", "groups.trawlers.count",
             "groups.villagers.count", "groups.villagers.params.order", "network.degree",
             "network.p", "network.kind", "groups.trawlers.deliberation", "groups.trawlers.error_rate",
             "events", "scenario", "specs.sustainable.principles.x.level", "groups.trawlers",
             "environment", "network.rewire.below", "x.y.z", "", "."]
    # Evolution and learning parameters, on a small evolving population.
    evolving = ["evolution.rule", "evolution.temperature", "evolution.mutation", "evolution.selection",
                "evolution.revise", "evolution.every", "evolution.births", "evolution.evolve",
                "evolution.policies", "evolution.levels", "evolution.groups", "evolution.fitness",
                "evolution", "groups.defector.policy", "groups.defector.params.epsilon",
                "groups.defector.params.alpha", "groups.defector.params.aspiration"]
    for _ in range(n):
        if rng.random() < 0.3:
            argv = ["run", "moran-ipd", "--steps", "2"]
            if rng.random() < 0.5:  # a learner, so that its parameters are read
                argv += ["--set", f"groups.defector.policy={rng.choice(['q_learning', 'roth_erev', 'aspiration'])}"]
            argv += ["--set", f"{rng.choice(evolving)}={rng.choice(HOSTILE)}"]
            yield argv
            continue
        argv = ["run", "commons", "--steps", "2"]
        for _ in range(rng.randint(1, 2)):
            argv += ["--set", f"{rng.choice(paths)}={rng.choice(HOSTILE)}"]
        yield argv


def spec_cases(rng: random.Random, tmp: Path, n: int) -> Iterator[list[str]]:
    """``spec check FILE`` and ``spec show FILE`` on mutated shipped specs."""
    for k in range(n):
        src = rng.choice(SPECS)
        path = tmp / f"spec-{k}" / src.name
        path.parent.mkdir(exist_ok=True)
        path.write_text(mutate_scenario(src.read_text(), rng))
        yield ["spec", rng.choice(["check", "show"]), str(path)]


def argument_cases(rng: random.Random, store_dir: Path, out: Path, n: int) -> Iterator[list[str]]:
    """Every argument of plot, report, export, rerun, sweep, run, eval, viz, check and list, hostile values."""
    d = str(store_dir)
    templates: list[Callable[[str], list[str]]] = [
        lambda v: ["plot", d, "--metric", "welfare", "--seed", v, "-o", str(out / "a.png")],
        lambda v: ["plot", d, "--metric", v, "-o", str(out / "b.png")],
        lambda v: ["plot", d, "--metric", "welfare", "--level", v, "-o", str(out / "c.png")],
        lambda v: ["plot", d, "--metric", "welfare", "--resamples", v, "-o", str(out / "d.png")],
        lambda v: ["plot", d, "--kind", "network", "--run", v, "-o", str(out / "e.png")],
        lambda v: ["plot", d, "--kind", "network", "--step", v, "-o", str(out / "f.png")],
        lambda v: ["plot", d, "--metric", "welfare", "--by", v, "-o", str(out / "g.png")],
        lambda v: ["plot", d, "--metric", "welfare", "--sweep", v, "-o", str(out / "h.png")],
        lambda v: ["plot", d, "--metric", "welfare", "-o", v or "x"],
        lambda v: ["report", d, "--seed", v, "-o", str(out / "r.html")],
        lambda v: ["report", d, "--sweep", v, "-o", str(out / "r2.html")],
        lambda v: ["report", v or "x", "-o", str(out / "r3.html")],
        lambda v: ["export", d, "--format", v],
        lambda v: ["export", v or "x"],
        lambda v: ["rerun", d, v],
        lambda v: ["rerun", v or "x", "0"],
        lambda v: ["sweep", "commons", "--runs", v, "--out", str(out / "s")],
        lambda v: ["sweep", "commons", "--seed", v, "--out", str(out / "s")],
        lambda v: ["sweep", "commons", "--workers", v, "--out", str(out / "s")],
        lambda v: ["sweep", "commons", "--grid", f"steps={v}", "--out", str(out / "s")],
        lambda v: ["sweep", "commons", "--grid", f"environment.growth={v}", "--out", str(out / "s")],
        lambda v: ["eval", "model-spec", "--dry-run", "--model", "m", "--judge", "j", "--runs", v,
                   "--out", str(out / "ev")],
        lambda v: ["eval", "model-spec", "--dry-run", "--model", "m", "--judge", "j", "--seed", v,
                   "--out", str(out / "ev")],
        lambda v: ["eval", "model-spec", "--dry-run", "--model", "m", "--judge", "j", "--threshold", v,
                   "--out", str(out / "ev")],
        lambda v: ["eval", "model-spec", "--dry-run", "--model", "m", "--judge", "j", "--max-cost", v,
                   "--out", str(out / "ev")],
        lambda v: ["eval", "model-spec", "--dry-run", "--model", v or "m", "--judge", "j",
                   "--principle", v, "--out", str(out / "ev")],
        lambda v: ["eval", "list", v or "x"],
        lambda v: ["eval", v or "x", "--dry-run", "--model", "m", "--judge", "j", "--set", f"llm.timeout={v}",
                   "--out", str(out / "ev")],
        # viz: always one refused argument beside the hostile one, so that no server starts.
        lambda v: ["viz", "commons", "--seed", v, "--port", "-1"],
        lambda v: ["viz", "commons", "--port", v, "--set", "steps=0"],
        lambda v: ["viz", v or "x", "--set", "nope=1"],
        lambda v: ["viz", "commons", "--set", f"environment.growth={v}", "--set", "nope=1"],
        lambda v: ["check", v or "x"],
        lambda v: ["check", "--json", v or "x"],
        lambda v: ["list", v or "x"],
        lambda v: ["run", "commons", "--seed", v],
        lambda v: ["run", "commons", "--steps", v],
        lambda v: ["run", "commons", "--runs", v, "--out", str(out / "rr")],
        lambda v: ["run", "commons", "--steps", "2", "--workers", v, "--runs", "1", "--out", str(out / "rw")],
    ]
    for _ in range(n):
        yield rng.choice(templates)(rng.choice(HOSTILE_ARGS))


# --- damaged stores -----------------------------------------------------------------------

DAMAGES: dict[str, Callable[[sqlite3.Connection], None]] = {
    "meta json": lambda c: c.execute("UPDATE meta SET value = '{not json' WHERE key = 'grid'"),
    "meta null": lambda c: c.execute("UPDATE meta SET value = NULL WHERE key = 'sweep_id'"),
    "meta gone": lambda c: c.execute("DELETE FROM meta"),
    "runs params json": lambda c: c.execute("UPDATE runs SET params = '[[[' WHERE run_id = 0"),
    "runs metrics null": lambda c: c.execute("UPDATE runs SET metrics = NULL"),
    "runs seed negative": lambda c: c.execute("UPDATE runs SET seed = -5"),
    "runs seed text": lambda c: c.execute("UPDATE runs SET seed = 'abc'"),
    "runs status odd": lambda c: c.execute("UPDATE runs SET status = 'weird'"),
    "sweeps specs json": lambda c: c.execute("UPDATE sweeps SET specs = 'nope'"),
    "sweeps gone": lambda c: c.execute("DELETE FROM sweeps"),
    "runs ledger odd": lambda c: c.execute("UPDATE runs SET ledger = 'some'"),
    "series blob": lambda c: c.execute("UPDATE series SET data = x'00ff'"),
    "drop series": lambda c: c.execute("DROP TABLE series"),
    "drop event_data": lambda c: c.execute("DROP TABLE event_data"),
    "drop runs": lambda c: c.execute("DROP TABLE runs"),
    "drop meta": lambda c: c.execute("DROP TABLE meta"),
}


#: Damage that replaces the whole file rather than editing the database.
TRUNCATIONS = ("zero bytes", "garbage", "garbage claiming WAL")


def damage(store_dir: Path, kind: str) -> None:
    """Apply one kind of damage to the store of ``store_dir`` (or truncate it: ``zero bytes``, ``garbage``)."""
    db = store_dir / "store.sqlite"
    if kind == "zero bytes":
        db.write_bytes(b"")
        return
    if kind == "garbage":
        db.write_bytes(b"SQLite format 3\x00" + random.Random(5).randbytes(200))
        return
    if kind == "garbage claiming WAL":  # header bytes 18-19 = 2 ask SQLite for WAL side files
        db.write_bytes(b"SQLite format 3\x00\x10\x00\x02\x02" + random.Random(6).randbytes(196))
        return
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        DAMAGES[kind](conn)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def store_commands(d: str, out: Path) -> list[list[str]]:
    """Every command that reads a store."""
    return [
        ["plot", d, "--metric", "welfare", "-o", str(out / "p.png")],
        ["plot", d, "--metric", "welfare", "--kind", "timeseries", "-o", str(out / "t.png")],
        ["report", d, "-o", str(out / "r.html")],
        ["export", d, "-o", str(out / "export")],
        ["export", d, "--format", "csv", "-o", str(out / "export-csv")],
        ["rerun", d, "0"],
        ["sweep", "commons", "--steps" if False else "--runs", "1", "--out", d],
    ]


def make_store(folder: Path) -> Path:
    """A small real sweep store (commons, two points, one run each, 3 steps) in ``folder``."""
    out = invoke(["sweep", "commons", "--grid", "environment.growth=1.2,1.3", "--set", "steps=3",
                  "--runs", "1", "--workers", "1", "--out", str(folder), "--no-progress"])
    assert out.code == 0, out.err
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.fuzz_cases [N] [SEED]``: a longer fuzz run; prints failures, exit 1 if any."""
    import tempfile

    args = argv if argv is not None else sys.argv[1:]
    n = int(args[0]) if args else 2000
    seed = int(args[1]) if len(args) > 1 else 1
    rng = random.Random(seed)
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        store = make_store(tmp / "store")
        cases = [*scenario_cases(rng, tmp, n), *override_cases(rng, n // 2), *spec_cases(rng, tmp, n // 2),
                 *argument_cases(rng, store, tmp / "outs", n)]
        for argv_ in cases:
            failures += problems(argv_, invoke(argv_))
        for kind in [*DAMAGES, *TRUNCATIONS]:
            for cmd in store_commands(str(tmp / f"damaged-{kind}"), tmp / "outs"):
                copy = tmp / f"damaged-{kind}"
                if not copy.exists():
                    import shutil

                    shutil.copytree(store, copy)
                    damage(copy, kind)
                failures += problems(cmd, invoke(cmd))
    print(json.dumps({"cases": len(cases), "failures": len(failures)}))
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
