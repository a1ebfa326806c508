"""The sweep store: one SQLite file per output folder.

Layout (``PRAGMA user_version`` is :data:`SCHEMA_VERSION`)::

    meta(key, value)            store facts and the latest sweep's description, values JSON
    sweeps(sweep_id, ...)       one row per sweep written into this store: scenario and
                                spec texts with sha256 hashes, grid, zip, runs, seed,
                                code version, first run id
    runs(run_id, sweep_id, scenario, point, rep, seed, params, status, error,
         started, ended, metrics, ledger, "p:<path>"..., "m:<metric>"...)
    series, event_counts, event_ledger and their dictionaries (metric_names,
    event_kinds, event_data): a run's time series and events, see :mod:`sim.runs.bulk`

Version 2 packs each run's time series and event ledger into one compressed
blob and stores each distinct conflict once (a demo run: about 0.01 MB instead
of 4 MB); ``ledger`` (``full``, ``counts`` or ``none``, see
:mod:`sim.runs.ledger`) says how much of a run's events was kept.

Why SQLite: one file, readable from any language, and in WAL mode readers see
a consistent store while the sweep writes. Only the driver writes, one
transaction per finished run, so a run is wholly in the store or not at all; a
kill at any moment leaves a valid store that a resume completes. Flattened
``p:`` and ``m:`` columns are added with ``ALTER TABLE`` as new grid paths and
metrics appear, so analysis can filter in SQL without parsing JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from agents.errors import SpecboundError
from sim.runs import bulk
from sim.runs.records import RunRecord

SCHEMA_VERSION = 2
STORE_FILE = "store.sqlite"

_TABLES = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)",
    """CREATE TABLE sweeps(sweep_id TEXT PRIMARY KEY, created REAL, scenario TEXT,
        scenario_text TEXT, specs TEXT, hashes TEXT, grid TEXT, zip TEXT, runs INTEGER,
        seed INTEGER, points INTEGER, first_run INTEGER, code_version TEXT, question TEXT)""",
    """CREATE TABLE runs(run_id INTEGER PRIMARY KEY, sweep_id TEXT, scenario TEXT,
        point INTEGER, rep INTEGER, seed INTEGER, params TEXT, status TEXT, error TEXT,
        started REAL, ended REAL, metrics TEXT, ledger TEXT)""",
    *bulk.TABLES,
)


def sha256(text: str) -> str:
    """Hex sha256 of a text, the identity recorded for scenario and spec texts."""
    return hashlib.sha256(text.encode()).hexdigest()


def code_version() -> str:
    """``git describe`` of the checkout this code runs from, else the package version."""
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists():
        try:
            out = subprocess.run(
                ["git", "describe", "--always", "--dirty", "--tags"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            )
            return f"git:{out.stdout.strip()}"
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        from importlib.metadata import version

        return f"specbound {version('specbound')}"
    except Exception:  # not installed: still record something honest
        return "unknown"


def quote(name: str) -> str:
    """Quote an SQL identifier (column names carry dots and colons)."""
    return '"' + name.replace('"', '""') + '"'


def _json_value(value: Any) -> Any:
    """JSON-safe scalar: NaN and infinities become None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class SweepInfo:
    """What identifies a sweep and lets any of its runs be reproduced."""

    sweep_id: str
    scenario: str
    scenario_text: str
    specs: dict[str, str]
    grid: dict[str, list[Any]]
    zip: dict[str, list[Any]]
    runs: int
    seed: int
    points: int
    first_run: int = 0
    code_version: str = ""
    question: str = ""

    @property
    def hashes(self) -> dict[str, str]:
        """sha256 of the scenario text (key ``scenario``) and of each spec text."""
        return {"scenario": sha256(self.scenario_text)} | {
            f"spec:{k}": sha256(v) for k, v in sorted(self.specs.items())
        }

    @property
    def fingerprint(self) -> str:
        """Stable id of what was asked: texts, grid, zip, runs and seed."""
        blob = json.dumps(
            [self.hashes, self.grid, self.zip, self.runs, self.seed], sort_keys=True, default=str
        )
        return sha256(blob)[:16]


def store_path(folder: str | os.PathLike) -> Path:
    """The store file inside an output folder."""
    return Path(folder) / STORE_FILE


def check_folder(folder: str | os.PathLike) -> Path:
    """Validate an output folder before anything is written; returns the store path.

    Raises SpecboundError if the folder is a file, cannot be created or written,
    or holds a store of another schema version. Nothing is created or altered.
    """
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise SpecboundError(f"--out {path}: is a file, not a folder; give a folder for the store")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise SpecboundError(f"--out {path}: {probe} is not writable")
    db = store_path(path)
    if db.exists():
        if db.is_dir():
            raise SpecboundError(f"{db}: is a folder, expected a specbound store")
        if not os.access(db, os.W_OK) or not os.access(path, os.W_OK):
            raise SpecboundError(f"{db}: store is not writable")
        schema_of(db)
    return db


def schema_of(db: Path) -> int:
    """A store file's schema version, checked by :func:`open_checked`; raise if damaged or another version.

    A 0-byte file counts as a fresh store (a writer creates the tables in it).
    """
    if db.stat().st_size == 0:
        return SCHEMA_VERSION
    open_checked(db).close()
    return SCHEMA_VERSION


def open_checked(db: Path, *, salvage: bool = False, timeout: float = 5.0) -> sqlite3.Connection:
    """The one way a store file is opened to read: read-only, schema, tables and rows checked.

    A damaged store is refused in one line naming the damage (:func:`check_store`);
    ``salvage`` (export) checks only the schema. The connection leaves no side files.
    """
    if db.stat().st_size == 0:
        raise SpecboundError(f"{db}: damaged store: the file is empty (0 bytes); rerun the sweep "
                             "into this folder, or start a new --out folder")
    conn = connect_read_only(db, timeout=timeout)
    try:
        check_store(db, conn, salvage=salvage)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_read_only(db: Path, timeout: float = 5.0) -> sqlite3.Connection:
    """A read-only connection that leaves no ``-wal``/``-shm`` files behind.

    With no ``-wal`` file, no writer is active (a writer's connection keeps one), so
    the file is opened ``immutable``: SQLite then creates no side files. Otherwise
    the writer's side files already exist and a plain read-only connection shares them.
    """
    wal = db.with_name(db.name + "-wal")
    flags = "mode=ro" if wal.exists() else "mode=ro&immutable=1"
    return sqlite3.connect(f"file:{db}?{flags}", uri=True, timeout=timeout)


def check_store(db: Path, conn: sqlite3.Connection, *, salvage: bool = False) -> None:
    """Refuse a store that is not this schema or whose tables or rows are damaged, in one line.

    Checks run in SQL (``json_valid``), a few milliseconds for 10,000 runs, so every
    open can afford them; analysis then never meets a row it cannot decode.
    ``salvage`` (export) checks only that this is a store of this schema: export
    writes whatever tables and rows are still there.
    """
    damaged = f"{db}: damaged store: "
    recover = (f"; `specbound export {db.parent}` writes what is still readable; or start a new "
               "--out folder (the store is left as it is)")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as err:
        raise SpecboundError(f"{db}: not a specbound store ({err})") from None
    if version != SCHEMA_VERSION:
        raise SpecboundError(
            f"{db}: store schema version {version}, this specbound reads version {SCHEMA_VERSION}"
            " (version 2 packs series and events per run); export it with the specbound that"
            " wrote it, or use a new --out folder (the store is left as it is)"
        )
    missing = [t for t in ("meta", "sweeps", "runs", *bulk.TABLE_NAMES) if t not in tables]
    if salvage:
        return
    if missing:
        raise SpecboundError(f"{damaged}table {missing[0]!r} is missing{recover}")
    for problem_sql, what in _ROW_CHECKS:
        try:
            row = conn.execute(problem_sql).fetchone()
        except sqlite3.DatabaseError as err:
            raise SpecboundError(f"{damaged}{err}{recover}") from None
        if row is not None:
            raise SpecboundError(f"{damaged}{what.format(*row)}{recover}")


#: (SQL returning the first bad row, description of it); every JSON column must hold valid JSON.
_ROW_CHECKS = (
    ("SELECT key FROM meta WHERE value IS NULL OR NOT json_valid(value) LIMIT 1",
     "meta row {0!r} is not valid JSON"),
    ("SELECT 1 WHERE EXISTS (SELECT 1 FROM sweeps) AND NOT EXISTS (SELECT 1 FROM meta WHERE key = 'sweep_id')",
     "meta has no sweep_id although sweeps are stored"),
    ("SELECT sweep_id FROM sweeps WHERE NOT (json_valid(specs) AND json_valid(hashes) AND json_valid(grid)"
     " AND json_valid(zip)) OR specs IS NULL OR grid IS NULL OR zip IS NULL OR scenario_text IS NULL"
     " OR typeof(runs) != 'integer' OR typeof(seed) != 'integer' OR typeof(points) != 'integer'"
     " OR typeof(first_run) != 'integer' OR runs < 1 OR seed < 0 OR points < 1 OR first_run < 0 LIMIT 1",
     "sweeps row {0!r} has a missing, negative or invalid value"),
    ("SELECT run_id FROM runs WHERE params IS NULL OR NOT json_valid(params) OR json_type(params) != 'object'"
     " LIMIT 1", "runs row {0} has params that are not a JSON object"),
    ("SELECT run_id FROM runs WHERE metrics IS NULL OR NOT json_valid(metrics) OR json_type(metrics) != 'object'"
     " LIMIT 1", "runs row {0} has metrics that are not a JSON object"),
    ("SELECT run_id FROM runs WHERE typeof(seed) != 'integer' OR seed < 0 OR typeof(point) != 'integer'"
     " OR typeof(rep) != 'integer' OR point < 0 OR rep < 0 OR run_id < 0 LIMIT 1",
     "runs row {0} has a seed, point or rep that is not a non-negative integer"),
    ("SELECT run_id, status FROM runs WHERE status IS NULL OR status NOT IN ('done', 'failed') LIMIT 1",
     "runs row {0} has status {1!r} (expected done or failed)"),
    # zlib streams begin with 0x78: a cheap check that catches an overwritten blob before a reader decodes it
    ("SELECT run_id FROM series WHERE typeof(data) != 'blob' OR hex(substr(data, 1, 1)) != '78' LIMIT 1",
     "series row {0} is not a packed blob"),
    ("SELECT run_id FROM event_ledger WHERE typeof(data) != 'blob' OR hex(substr(data, 1, 1)) != '78' LIMIT 1",
     "event_ledger row {0} is not a packed blob"),
    ("SELECT run_id, ledger FROM runs WHERE ledger IS NULL OR ledger NOT IN ('full', 'counts', 'none') LIMIT 1",
     "runs row {0} has ledger {1!r} (expected full, counts or none)"),
    ("SELECT run_id FROM runs WHERE sweep_id IS NULL OR sweep_id NOT IN (SELECT sweep_id FROM sweeps) LIMIT 1",
     "runs row {0} belongs to no stored sweep"),
)


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), rolled back on any exit by exception.

    A signal can land after COMMIT, with nothing left to undo; the stop must then not
    turn into "cannot rollback" (test_process_hygiene caught this with SIGTERM).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class Store:
    """A sweep store. Open with :meth:`create_or_open` to write, :meth:`open` to read."""

    def __init__(self, db: Path, conn: sqlite3.Connection, *, writable: bool) -> None:
        self.path = db
        self._conn = conn
        self._writable = writable  # close() hands a writer's store back in rollback-journal mode
        self._columns = self._read_columns()
        self._known = bulk.Dictionary()  # dictionary ids this writer has looked up

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def create_or_open(cls, folder: str | os.PathLike) -> Store:
        """Open the store of ``folder`` for writing, creating folder and store if needed."""
        db = check_folder(folder)
        db.parent.mkdir(parents=True, exist_ok=True)
        fresh = not db.exists() or db.stat().st_size == 0
        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if fresh:
            with write_transaction(conn):
                for sql in _TABLES:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                conn.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [
                        ("schema_version", json.dumps(SCHEMA_VERSION)),
                        ("created", json.dumps(time.time())),
                    ],
                )
        return cls(db, conn, writable=True)

    @classmethod
    def open(cls, folder: str | os.PathLike, *, salvage: bool = False) -> Store:
        """Open an existing store read-only (safe while a sweep writes to it).

        This is the one way a store is read: its schema, tables and rows are checked
        and a damaged store is refused in one line naming the damage. ``salvage``
        (for export) skips the table and row checks, to rescue what is readable.
        """
        path = Path(folder)
        db = path if path.is_file() else store_path(path)
        if not db.is_file():
            raise SpecboundError(f"{path}: no specbound store here (expected {STORE_FILE})")
        return cls(db, open_checked(db, salvage=salvage, timeout=30), writable=False)

    def close(self) -> None:
        """Close the connection; a writer leaves the store in rollback-journal mode.

        WAL lets readers see a consistent store while a sweep writes; once the writer
        is gone, the plain journal mode means a later read-only command creates no
        ``-wal``/``-shm`` files beside a store it only reads (if a reader is still
        connected the switch is skipped, and WAL stays, harmlessly).
        """
        if self._writable:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._conn.execute("PRAGMA journal_mode=DELETE")
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sweeps ----------------------------------------------------------------------------

    def sweeps(self) -> list[SweepInfo]:
        """Every sweep recorded in this store, oldest first."""
        rows = self._conn.execute(
            "SELECT sweep_id, scenario, scenario_text, specs, grid, zip, runs, seed, points,"
            " first_run, code_version, question FROM sweeps ORDER BY first_run"
        ).fetchall()
        return [
            SweepInfo(
                sweep_id=r[0],
                scenario=r[1],
                scenario_text=r[2],
                specs=json.loads(r[3]),
                grid=json.loads(r[4]),
                zip=json.loads(r[5]),
                runs=r[6],
                seed=r[7],
                points=r[8],
                first_run=r[9],
                code_version=r[10],
                question=r[11] or "",
            )
            for r in rows
        ]

    def sweep(self, sweep_id: str) -> SweepInfo | None:
        """The sweep with this id, or None."""
        return next((s for s in self.sweeps() if s.sweep_id == sweep_id), None)

    def next_run_id(self) -> int:
        """First run id free for a new sweep (after every planned run of earlier sweeps)."""
        row = self._conn.execute("SELECT MAX(first_run + points * runs) FROM sweeps").fetchone()
        return int(row[0] or 0)

    def add_sweep(self, info: SweepInfo) -> None:
        """Record a new sweep and make it the one ``meta`` describes."""
        with write_transaction(self._conn):
            self._conn.execute(
                "INSERT INTO sweeps VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    info.sweep_id,
                    time.time(),
                    info.scenario,
                    info.scenario_text,
                    json.dumps(info.specs, sort_keys=True),
                    json.dumps(info.hashes, sort_keys=True),
                    json.dumps(info.grid),
                    json.dumps(info.zip),
                    info.runs,
                    info.seed,
                    info.points,
                    info.first_run,
                    info.code_version,
                    info.question,
                ),
            )
            meta = {
                "code_version": info.code_version,
                "sweep_id": info.sweep_id,
                "scenario": info.scenario,
                "scenario_text": info.scenario_text,
                "specs": info.specs,
                "hashes": info.hashes,
                "grid": info.grid,
                "zip": info.zip,
                "runs": info.runs,
                "seed": info.seed,
                "question": info.question,
            }
            self._conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(k, json.dumps(v, sort_keys=True)) for k, v in meta.items()],
            )
            for path in [*info.grid, *info.zip]:
                self._ensure_column(f"p:{path}", "")

    # -- writing runs ----------------------------------------------------------------------

    def status_of(self, sweep_id: str) -> dict[int, str]:
        """run_id -> status for every stored run of a sweep."""
        rows = self._conn.execute("SELECT run_id, status FROM runs WHERE sweep_id = ?", (sweep_id,))
        return dict(rows.fetchall())

    def write_run(
        self, sweep_id: str, scenario: str, record: RunRecord, replace: bool = False
    ) -> None:
        """Write one finished run (row, time series, events) in one transaction.

        ``replace`` lets a retried failed run take the place of its failed row;
        otherwise a run id already present is an error (nothing is overwritten).
        """
        job, metrics = record.job, record.metrics
        run_id, params = job.run_id, dict(job.params)
        conn = self._conn
        try:
            with write_transaction(conn):
                if replace:
                    for table in ("runs", *bulk.RUN_TABLES):
                        conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
                cols = {f"p:{k}": v for k, v in params.items()} | {
                    f"m:{k}": v for k, v in metrics.items()
                }
                for name in cols:
                    self._ensure_column(name, "REAL" if name.startswith("m:") else "")
                names = [
                    "run_id", "sweep_id", "scenario", "point", "rep", "seed", "params", "status",
                    "error", "started", "ended", "metrics", "ledger", *cols,
                ]  # fmt: skip
                values = [
                    run_id, sweep_id, scenario, job.point, job.rep, job.seed,
                    json.dumps(params, sort_keys=True, default=str), record.status, record.error,
                    record.started, record.ended,
                    json.dumps({k: _json_value(v) for k, v in metrics.items()}, sort_keys=True),
                    record.ledger, *(_sql_value(v) for v in cols.values()),
                ]  # fmt: skip
                conn.execute(
                    f"INSERT INTO runs ({', '.join(map(quote, names))}) VALUES ({', '.join('?' * len(names))})",
                    values,
                )
                bulk.write_bulk(conn, record, self._known)
        except BaseException:
            self._columns = self._read_columns()  # a column added inside was rolled back
            self._known.forget()  # and so were dictionary entries added inside
            raise

    def tables(self) -> set[str]:
        """Names of the tables present (a salvaged store may have lost some)."""
        return {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def _read_columns(self) -> set[str]:
        return {r[1] for r in self._conn.execute("PRAGMA table_info(runs)")}

    def _ensure_column(self, name: str, sql_type: str) -> None:
        if name not in self._columns:
            self._conn.execute(f"ALTER TABLE runs ADD COLUMN {quote(name)} {sql_type}".rstrip())
            self._columns.add(name)

    # -- reading ---------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        """Store facts and the latest sweep's description, JSON values decoded."""
        return {k: json.loads(v) for k, v in self._conn.execute("SELECT key, value FROM meta")}

    def grid_paths(self) -> list[str]:
        """Every grid or zip path of any sweep in the store, in column order."""
        return [c[2:] for c in self._ordered_columns() if c.startswith("p:")]

    def metric_names(self) -> list[str]:
        """Every final metric that has a column, in the order metrics first appeared."""
        return [c[2:] for c in self._ordered_columns() if c.startswith("m:")]

    def _ordered_columns(self) -> list[str]:
        return [r[1] for r in self._conn.execute("PRAGMA table_info(runs)")]

    def runs(self, sweep_id: str | None = None) -> pd.DataFrame:
        """One row per run: ids, seed, status, error, a column per grid path and per metric.

        Grid and metric columns are named by the path and the metric (the
        ``p:``/``m:`` prefixes are dropped unless a name would clash).
        """
        cols = self._ordered_columns()
        base = ["run_id", "sweep_id", "point", "rep", "seed", "status", "error", "started", "ended",
                "ledger"]
        flat = [c for c in cols if c[:2] in ("p:", "m:")]
        sql = f"SELECT {', '.join(map(quote, base + flat))} FROM runs"
        args: tuple = ()
        if sweep_id is not None:
            sql += " WHERE sweep_id = ?"
            args = (sweep_id,)
        frame = pd.read_sql_query(sql + " ORDER BY run_id", self._conn, params=args)
        # one dtype whether or not any run failed, so frames of two reads compare equal
        frame["error"] = frame["error"].astype("str")
        taken = set(base)
        renames = {}
        for c in flat:
            short = c[2:]
            if short not in taken:
                renames[c] = short
                taken.add(short)
        return frame.rename(columns=renames)

    def steps(self, run_ids: Sequence[int] | None = None) -> pd.DataFrame:
        """Time series in long form: run_id, step, metric, value (by run, then step)."""
        if run_ids is not None and not list(run_ids):
            return bulk.concat([], ("run_id", "step", "metric", "value"))
        return bulk.concat(bulk.series_frames(self._conn, run_ids),
                           ("run_id", "step", "metric", "value"))

    def events(self, kind: str | None = None, limit: int | None = None) -> pd.DataFrame:
        """The event ledger (conflicts and others) of runs stored with ``--ledger full``.

        Columns run_id, step, kind, agent, partner, data (JSON of the other fields),
        in the order the run logged them. Runs stored with ``counts`` or ``none``
        have no rows here: see :meth:`event_counts` and :meth:`ledgers`.
        """
        frame = bulk.concat(bulk.ledger_frames(self._conn, kind), bulk.EVENT_COLUMNS)
        return frame if limit is None else frame.head(int(limit))

    def event_counts(self, kind: str | None = None) -> pd.DataFrame:
        """Per run, step, event kind and payload: how many events (ledgers full and counts).

        Columns run_id, step, kind, data (JSON, as in :meth:`events`), count.
        """
        return bulk.event_counts(self._conn, kind)

    def ledgers(self) -> dict[int, str]:
        """run_id -> how much of its events the run kept: ``full``, ``counts`` or ``none``."""
        return {int(r): str(m) for r, m in self._conn.execute("SELECT run_id, ledger FROM runs")}

    def run_row(self, run_id: int) -> dict[str, Any]:
        """The stored row of one run (params and metrics decoded)."""
        cur = self._conn.execute(
            "SELECT run_id, sweep_id, point, rep, seed, params, status, error, metrics FROM runs"
            " WHERE run_id = ?",
            (int(run_id),),
        )
        row = cur.fetchone()
        if row is None:
            raise SpecboundError(f"{self.path}: no run with run_id {run_id}")
        keys = [d[0] for d in cur.description]
        out = dict(zip(keys, row, strict=True))
        out["params"] = json.loads(out["params"])
        out["metrics"] = json.loads(out["metrics"])
        return out

    def iter_table(self, table: str, batch: int = 50_000) -> Iterable[pd.DataFrame]:
        """Stream ``steps``, ``events`` or ``event_counts`` in frames of about ``batch`` rows.

        For export: memory stays flat however many runs the store holds.
        """
        if table == "event_counts":
            yield self.event_counts()
            return
        if table not in ("steps", "events"):
            raise SpecboundError(f"table {table!r}: expected steps, events or event_counts")
        frames = (bulk.series_frames(self._conn, sort=False) if table == "steps"
                  else bulk.ledger_frames(self._conn))
        held: list[pd.DataFrame] = []
        rows = 0
        for frame in frames:
            held.append(frame)
            rows += len(frame)
            if rows >= batch:
                yield pd.concat(held, ignore_index=True)
                held, rows = [], 0
        if held:
            yield pd.concat(held, ignore_index=True)


def _sql_value(value: Any) -> Any:
    """Value for a flattened column: scalars as they are, anything else as JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        return float(value)  # numpy scalars
    except (TypeError, ValueError):
        return json.dumps(value, default=str)
