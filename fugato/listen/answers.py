"""A listening test's answers in SQLite: one database file per test, WAL mode, schema versioned.

Every answer is committed when it is given (a killed server loses none that were answered);
an answer is keyed by (listener, item, question), so a repeated submission changes nothing.
Reads run in one transaction, so results read while answers arrive see whole submissions.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fugato.errors import FugatoError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS listeners (
    token TEXT PRIMARY KEY,
    created REAL NOT NULL,
    item_order TEXT NOT NULL  -- JSON list of item ids, this listener's shuffled order
);
CREATE TABLE IF NOT EXISTS answers (
    token TEXT NOT NULL REFERENCES listeners(token),
    item TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,   -- a choice id, or for a ranking a JSON list of clip ids, best first
    answered REAL NOT NULL,
    PRIMARY KEY (token, item, question)
);
"""


class Answers:
    """The answers database of one test (`path`), safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # an answer given survives a power cut
        self._db.executescript(SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise FugatoError(f"{path}: answers schema {row[0]}, this fugato reads "
                              f"{SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def add_listener(self, token: str, order: list[str]) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO listeners VALUES (?, ?, ?)",
                       (token, time.time(), json.dumps(order)))

    def forget_if_unanswered(self, token: str) -> None:
        """Forget a listener who has answered nothing yet (their page asks for a new token)."""
        with self.transaction() as db:
            db.execute("DELETE FROM listeners WHERE token = ? AND NOT EXISTS "
                       "(SELECT 1 FROM answers WHERE token = ?)", (token, token))

    def order(self, token: str) -> list[str] | None:
        """A listener's item order, None for an unknown token."""
        with self._lock:
            row = self._db.execute("SELECT item_order FROM listeners WHERE token = ?",
                                   (token,)).fetchone()
        return None if row is None else list(json.loads(row[0]))

    def answered(self, token: str) -> dict[str, dict[str, str]]:
        """item -> question -> answer, of one listener."""
        with self._lock:
            rows = self._db.execute("SELECT item, question, answer FROM answers WHERE token = ?",
                                    (token,)).fetchall()
        out: dict[str, dict[str, str]] = {}
        for item, question, answer in rows:
            out.setdefault(item, {})[question] = answer
        return out

    def answer(self, token: str, item: str, answers: dict[str, str]) -> bool:
        """Record one item's answers in one commit; False (and nothing changed) when this
        listener had answered that item already."""
        now = time.time()
        with self.transaction() as db:
            done = db.execute("SELECT 1 FROM answers WHERE token = ? AND item = ?",
                              (token, item)).fetchone()
            if done is not None:
                return False
            db.executemany("INSERT INTO answers VALUES (?, ?, ?, ?, ?)",
                           [(token, item, q, a, now) for q, a in answers.items()])
        return True

    def snapshot(self) -> dict[str, Any]:
        """Every listener and answer, read in one transaction."""
        with self.transaction() as db:
            listeners = [r[0] for r in db.execute("SELECT token FROM listeners ORDER BY created")]
            answers = db.execute("SELECT token, item, question, answer FROM answers "
                                 "ORDER BY answered, token, item, question").fetchall()
        return {"listeners": listeners, "answers": [tuple(r) for r in answers]}

    def close(self) -> None:
        with self._lock:
            self._db.close()
