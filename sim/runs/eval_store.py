"""Eval tables beside the sweep store's own, in the same ``store.sqlite``.

An eval is stored as a sweep: one ``sweeps`` row (its identity), one ``runs``
row per model and setting (params ``model``, the ``--set`` paths, ``judge``;
final metrics ``compliance_rate``, ``compliance.<principle>``,
``compliance.level.<level>``, ``eval.*`` counts and the ``llm.*`` ledger), so
the sweep tools (``plot --kind bar``, ``export``) read it as they read any
sweep. The per-answer detail goes into three tables this module adds::

    eval_cases(sweep_id, case_id, principle, level, title, source, data)
        data: the case as JSON (messages with roles, labelled references)
    eval_answers(run_id, case_id, sample, principle, level, answer, error,
                 verdict, score, reason, judge_ok, cached, prompt_tokens,
                 completion_tokens, judge_prompt_tokens, judge_completion_tokens)
        one row per case and sample; verdict comply|violate, score 1|0, NULL
        when the judge failed (judge_ok 0, reason says why) or the model gave
        no answer (error says why)
    eval_calibration(sweep_id, judge, case_id, ref, label, verdict, correct,
                     judge_ok, reason)
        the judge's grade of each labelled GOOD/BAD reference
    eval_ledger(sweep_id, started, name, ledger)
        per invocation, each model's and the judge's requests, calls, cache hits,
        errors, budget skips, tokens and USD (JSON; cost null without a price)

Every row is written in its own transaction as soon as it is known, so a
stopped eval (``--max-cost``, Ctrl-C) keeps what was done and a rerun of the
same command does only the rest.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from sim.runs.store import connect_read_only, store_path, write_transaction

_TABLES = (
    """CREATE TABLE IF NOT EXISTS eval_cases(sweep_id TEXT, case_id TEXT, principle TEXT,
        level TEXT, title TEXT, source TEXT, data TEXT, PRIMARY KEY(sweep_id, case_id))""",
    """CREATE TABLE IF NOT EXISTS eval_answers(run_id INTEGER, case_id TEXT, sample INTEGER,
        principle TEXT, level TEXT, answer TEXT, error TEXT, verdict TEXT, score REAL,
        reason TEXT, judge_ok INTEGER, cached INTEGER, prompt_tokens INTEGER,
        completion_tokens INTEGER, judge_prompt_tokens INTEGER,
        judge_completion_tokens INTEGER, PRIMARY KEY(run_id, case_id, sample))""",
    """CREATE TABLE IF NOT EXISTS eval_calibration(sweep_id TEXT, judge TEXT, case_id TEXT,
        ref INTEGER, label TEXT, verdict TEXT, correct INTEGER, judge_ok INTEGER, reason TEXT,
        PRIMARY KEY(sweep_id, judge, case_id, ref))""",
    """CREATE TABLE IF NOT EXISTS eval_ledger(sweep_id TEXT, started REAL, name TEXT,
        ledger TEXT)""",
)

ANSWER_COLUMNS = ("run_id", "case_id", "sample", "principle", "level", "answer", "error",
                  "verdict", "score", "reason", "judge_ok", "cached", "prompt_tokens",
                  "completion_tokens", "judge_prompt_tokens", "judge_completion_tokens")
CALIBRATION_COLUMNS = ("sweep_id", "judge", "case_id", "ref", "label", "verdict", "correct",
                       "judge_ok", "reason")


class EvalTables:
    """Writer and reader of the eval tables of one store file."""

    def __init__(self, folder: str | Path, writable: bool = True) -> None:
        db = store_path(folder)
        if writable:
            self._conn = sqlite3.connect(db, isolation_level=None, timeout=30)
            for sql in _TABLES:
                self._conn.execute(sql)
        else:
            self._conn = connect_read_only(db, timeout=30)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EvalTables:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def add_cases(self, sweep_id: str, cases: list[dict[str, Any]]) -> None:
        rows = [(sweep_id, c["id"], c["principle"], c["level"], c["title"], c["source"],
                 json.dumps(c, ensure_ascii=False)) for c in cases]
        with write_transaction(self._conn):  # rolled back, not left open, if the insert fails
            self._conn.executemany("INSERT OR REPLACE INTO eval_cases VALUES (?,?,?,?,?,?,?)", rows)

    def add_ledger(self, sweep_id: str, started: float, ledgers: dict[str, Any]) -> None:
        rows = [(sweep_id, started, name, json.dumps(led, sort_keys=True))
                for name, led in ledgers.items()]
        self._conn.executemany("INSERT INTO eval_ledger VALUES (?,?,?,?)", rows)

    def ledger(self, sweep_id: str) -> pd.DataFrame:
        """Every invocation's ledger rows of an eval (name, started, and the ledger's keys)."""
        rows = self._conn.execute("SELECT started, name, ledger FROM eval_ledger WHERE "
                                  "sweep_id = ? ORDER BY rowid", (sweep_id,)).fetchall()
        return pd.DataFrame([{"started": s, "name": n, **json.loads(led)} for s, n, led in rows])

    def add_answer(self, row: dict[str, Any]) -> None:
        self._insert("eval_answers", ANSWER_COLUMNS, row)

    def add_calibration(self, row: dict[str, Any]) -> None:
        self._insert("eval_calibration", CALIBRATION_COLUMNS, row)

    def _insert(self, table: str, columns: tuple[str, ...], row: dict[str, Any]) -> None:
        sql = (f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        self._conn.execute(sql, [row.get(c) for c in columns])

    # -- reading -------------------------------------------------------------------------

    def done_answers(self, run_ids: list[int]) -> set[tuple[int, str, int]]:
        """(run_id, case_id, sample) of every answer stored with a verdict or a judge failure.

        Answers the model never gave (an error, a budget stop) are not done: a rerun retries them.
        """
        if not run_ids:
            return set()
        q = (f"SELECT run_id, case_id, sample FROM eval_answers WHERE run_id IN "
             f"({', '.join('?' * len(run_ids))}) AND answer IS NOT NULL")
        return {(int(a), str(b), int(c)) for a, b, c in self._conn.execute(q, run_ids)}

    def calibration_done(self, sweep_id: str, judge: str) -> set[tuple[str, int]]:
        q = ("SELECT case_id, ref FROM eval_calibration WHERE sweep_id = ? AND judge = ? "
             "AND judge_ok = 1")
        return {(str(a), int(b)) for a, b in self._conn.execute(q, (sweep_id, judge))}

    def answers(self, run_ids: list[int] | None = None) -> pd.DataFrame:
        sql = f"SELECT {', '.join(ANSWER_COLUMNS)} FROM eval_answers"
        args: list[Any] = []
        if run_ids is not None:
            sql += f" WHERE run_id IN ({', '.join('?' * len(run_ids)) or 'NULL'})"
            args = list(run_ids)
        return pd.read_sql_query(sql + " ORDER BY run_id, rowid", self._conn, params=args)

    def calibration(self, sweep_id: str) -> pd.DataFrame:
        return pd.read_sql_query(
            f"SELECT {', '.join(CALIBRATION_COLUMNS)} FROM eval_calibration WHERE sweep_id = ? "
            "ORDER BY rowid", self._conn, params=(sweep_id,))

    def cases(self, sweep_id: str) -> pd.DataFrame:
        return pd.read_sql_query(
            "SELECT case_id, principle, level, title, source, data FROM eval_cases "
            "WHERE sweep_id = ? ORDER BY rowid", self._conn, params=(sweep_id,))


def is_eval_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a store with eval answers."""
    db = store_path(folder) if not Path(folder).is_file() else Path(folder)
    if not db.is_file():
        return False
    try:
        # A garbage header can claim WAL mode: a plain read-only open would then leave side files.
        conn = connect_read_only(db)
        try:
            row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                               "name='eval_answers'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return row is not None
