"""SQLite persistence for studies and trials: one transaction per state change.

WAL mode, parameterized SQL only. A process killed mid-trial leaves that trial as
"running"; :meth:`Store.release_running_trials` marks it cancelled on resume, and
every finished trial before it is intact.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.status import STORED_STUDY_STATUSES, StudyStatus, TrialOrigin, TrialStatus
from core.study import Study, StudyConfig, Trial

DEFAULT_DB = Path("runs") / "studies.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    final TEXT,
    owner_pid INTEGER,
    val_samples INTEGER,
    note TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    value REAL,
    history TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    guided INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    seconds REAL,
    regret_bound REAL,
    noise_std REAL,
    origin TEXT NOT NULL DEFAULT 'search',
    metrics TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (study_id, number)
);
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    params TEXT NOT NULL,
    value REAL,
    created_at REAL NOT NULL
);
"""
#: Columns added to ``trials`` since its first version, added to older databases on opening.
ADDED_TRIAL_COLUMNS = {
    "regret_bound": "REAL",
    "noise_std": "REAL",
    "origin": "TEXT NOT NULL DEFAULT 'search'",
    "metrics": "TEXT NOT NULL DEFAULT '{}'",
}
#: Columns added to ``studies`` since its first version.
ADDED_STUDY_COLUMNS = {"val_samples": "INTEGER", "note": "TEXT NOT NULL DEFAULT ''"}


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database written by an older schema up to this one, in place: the tables it
    lacks are made, the columns added since are added with their defaults. What it holds
    stays as it is; a trial stored before trials recorded their metrics reads its value as
    its validation accuracy (:func:`_trial`), a study before objectives maximised that."""
    conn.executescript(SCHEMA)
    for table, added in (("trials", ADDED_TRIAL_COLUMNS), ("studies", ADDED_STUDY_COLUMNS)):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for column, kind in added.items():
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


class StudyNotFound(KeyError):
    def __str__(self) -> str:
        return f"no study named {self.args[0]!r}"


class Store:
    """All SQL lives here. Safe to share between threads."""

    def __init__(self, path: str | os.PathLike = DEFAULT_DB) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            _migrate(self._conn)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:  # commits, or rolls back on error
            yield self._conn

    # -- studies ------------------------------------------------------------
    def create_study(self, config: StudyConfig, inherited: Sequence[Trial] = ()) -> int:
        """Store a new study, with the trials it inherits (a warm start's), in one
        transaction."""
        now = time.time()
        try:
            with self._tx() as conn:
                cur = conn.execute(
                    "INSERT INTO studies (name, config, status, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (config.name, json.dumps(config.to_dict()), StudyStatus.CREATED, now, now),
                )
                self._insert_results(conn, config.name, inherited, now)
                return int(cur.lastrowid)
        except sqlite3.IntegrityError:
            raise ValueError(
                f"a study named {config.name!r} already exists: choose another name"
            ) from None

    def set_status(
        self, name: str, status: str, *, owner_pid: int | None = None, error: str | None = None
    ) -> None:
        if status not in STORED_STUDY_STATUSES:
            raise ValueError(
                f"status must be one of {[str(s) for s in STORED_STUDY_STATUSES]}, got {status!r}"
            )
        with self._tx() as conn:
            conn.execute(
                "UPDATE studies SET status = ?, owner_pid = ?, error = ?, updated_at = ? "
                "WHERE name = ?",
                (status, owner_pid, error, time.time(), name),
            )

    def set_final(self, name: str, final: Mapping[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE studies SET final = ?, updated_at = ? WHERE name = ?",
                (json.dumps(dict(final)), time.time(), name),
            )

    def set_note(self, name: str, note: str) -> None:
        """A person's free-text note on the study (what it was for, what they saw)."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE studies SET note = ?, updated_at = ? WHERE name = ?",
                (str(note).strip(), time.time(), name),
            )
            if cur.rowcount == 0:
                raise StudyNotFound(name)

    def set_val_samples(self, name: str, n: int) -> None:
        """Record how many validation samples score each trial (what floors the GP's noise)."""
        with self._tx() as conn:
            conn.execute("UPDATE studies SET val_samples = ? WHERE name = ?", (int(n), name))

    def names(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT name FROM studies ORDER BY id").fetchall()
        return [r["name"] for r in rows]

    def load(self, name: str) -> Study:
        with self._lock:
            row = self._conn.execute("SELECT * FROM studies WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise StudyNotFound(name)
            trials = self._conn.execute(
                "SELECT * FROM trials WHERE study_id = ? ORDER BY number", (row["id"],)
            ).fetchall()
        return Study(
            id=row["id"],
            config=StudyConfig.from_dict(json.loads(row["config"])),
            status=StudyStatus(row["status"]),
            trials=tuple(_trial(t) for t in trials),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            error=row["error"],
            final=json.loads(row["final"]) if row["final"] else None,
            owner_pid=row["owner_pid"],
            val_samples=row["val_samples"],
            note=row["note"],
        )

    def list(self) -> list[Study]:
        return [self.load(name) for name in self.names()]

    # -- trials -------------------------------------------------------------
    def start_trial(
        self,
        name: str,
        number: int,
        params: Mapping[str, float],
        guided: bool,
        origin: str = TrialOrigin.SEARCH,
        queued: int | None = None,
    ) -> None:
        """A trial starts; ``queued``: the queue entry it trains, taken in the same
        transaction (a process killed at any moment leaves the point queued or started)."""
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO trials (study_id, number, params, status, guided, started_at, "
                "origin) SELECT id, ?, ?, ?, ?, ?, ? FROM studies WHERE name = ?",
                (number, json.dumps(dict(params)), TrialStatus.RUNNING, int(guided), now,
                 str(origin), name),
            )  # fmt: skip
            if queued is not None:
                conn.execute("DELETE FROM queue WHERE id = ?", (queued,))
            conn.execute("UPDATE studies SET updated_at = ? WHERE name = ?", (now, name))

    def add_results(self, name: str, trials: Sequence[Trial], queued: Sequence[int] = ()) -> None:
        """Store finished trials this study did not train (typed-in results, a warm start's
        trials) as they are, numbers included, and take the ``queued`` entries they came
        from, in one transaction."""
        now = time.time()
        with self._tx() as conn:
            self._insert_results(conn, name, trials, now)
            conn.executemany("DELETE FROM queue WHERE id = ?", [(i,) for i in queued])
            conn.execute("UPDATE studies SET updated_at = ? WHERE name = ?", (now, name))

    @staticmethod
    def _insert_results(
        conn: sqlite3.Connection, name: str, trials: Sequence[Trial], now: float
    ) -> None:
        for t in trials:
            conn.execute(
                "INSERT INTO trials (study_id, number, params, status, value, history, "
                "error, guided, started_at, finished_at, seconds, origin, metrics) "
                "SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM studies WHERE name = ?",
                (t.number, json.dumps(dict(t.params)), str(t.status), t.value,
                 json.dumps([dict(h) for h in t.history]), t.error, int(t.guided),
                 t.started_at, t.finished_at or now, t.seconds, str(t.origin),
                 json.dumps(dict(t.metrics)), name),
            )  # fmt: skip

    # -- a person's hand on the search: points to try next, results to tell ----
    def enqueue(self, name: str, params: Mapping[str, Any], value: float | None = None) -> int:
        """Queue a point to train next (``value`` None) or a result trained elsewhere, for
        the process that runs the study to take (:meth:`start_trial`, :meth:`add_results`);
        returns how many wait now."""
        with self._tx() as conn:
            row = conn.execute("SELECT id FROM studies WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise StudyNotFound(name)
            conn.execute(
                "INSERT INTO queue (study_id, params, value, created_at) VALUES (?, ?, ?, ?)",
                (row["id"], json.dumps(dict(params)), value, time.time()),
            )
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM queue WHERE study_id = ?", (row["id"],)
            ).fetchone()
            return int(count)

    def queued(self, name: str) -> list[Queued]:
        """What waits in the study's queue, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT q.* FROM queue q JOIN studies s ON s.id = q.study_id "
                "WHERE s.name = ? ORDER BY q.id",
                (name,),
            ).fetchall()
        return [Queued(r["id"], json.loads(r["params"]), r["value"]) for r in rows]

    def add_epoch(self, name: str, number: int, history: list[Mapping[str, float]]) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE trials SET history = ? "
                "WHERE study_id = (SELECT id FROM studies WHERE name = ?) AND number = ?",
                (json.dumps([dict(h) for h in history]), name, number),
            )

    def finish_trial(
        self,
        name: str,
        number: int,
        *,
        status: str,
        value: float | None,
        history: list[Mapping[str, float]],
        error: str | None,
        seconds: float,
        regret_bound: float | None = None,
        noise_std: float | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """The trial's outcome (its objective's ``value`` and every metric it recorded),
        and the search's regret bound and noise as estimated once it was told to the GP, in
        one transaction."""
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                "UPDATE trials SET status = ?, value = ?, history = ?, error = ?, "
                "finished_at = ?, seconds = ?, regret_bound = ?, noise_std = ?, metrics = ? "
                "WHERE study_id = (SELECT id FROM studies WHERE name = ?) AND number = ?",
                (status, value, json.dumps([dict(h) for h in history]), error, now, seconds,
                 regret_bound, noise_std, json.dumps(dict(metrics or {})), name, number),
            )  # fmt: skip
            conn.execute("UPDATE studies SET updated_at = ? WHERE name = ?", (now, name))

    def release_running_trials(self, name: str) -> int:
        """Mark trials left "running" by a dead process as cancelled; returns how many."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE trials SET status = ?, "
                "error = 'interrupted: the process ended during this trial', finished_at = ? "
                "WHERE study_id = (SELECT id FROM studies WHERE name = ?) AND status = ?",
                (TrialStatus.CANCELLED, time.time(), name, TrialStatus.RUNNING),
            )
            return cur.rowcount


@dataclass(frozen=True)
class Queued:
    """A point a person asked to try next (``value`` None), or a result they typed in."""

    id: int
    params: dict[str, Any]
    value: float | None = None


def _trial(row: sqlite3.Row) -> Trial:
    metrics = json.loads(row["metrics"] or "{}")
    if not metrics and row["value"] is not None:  # stored before trials recorded metrics
        metrics = {"val_accuracy": row["value"]}
    return Trial(
        metrics=metrics,
        number=row["number"],
        params=json.loads(row["params"]),
        status=TrialStatus(row["status"]),
        value=row["value"],
        history=tuple(json.loads(row["history"])),
        error=row["error"],
        guided=bool(row["guided"]),
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        seconds=row["seconds"],
        regret_bound=row["regret_bound"],
        noise_std=row["noise_std"],
        origin=TrialOrigin(row["origin"]),
    )
