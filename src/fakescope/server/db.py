"""The scan store: one SQLite table that is both the record of every scan and the work queue.

The web process inserts, reads and deletes; worker processes claim queued scans and write progress and
results. SQLite in WAL mode lets readers and one writer work at the same time across processes, so a status
poll never waits for a scan. Each claim carries a random token, and a worker's writes only apply while its
token is the row's: a worker left over from a killed server cannot overwrite a scan that was handed on.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    id TEXT PRIMARY KEY,
    filename TEXT NOT NULL,        -- the name the client sent, for display only: never a path
    kind TEXT,                     -- image or video, sniffed from the bytes
    size INTEGER NOT NULL,
    status TEXT NOT NULL,          -- queued, running, done, failed
    stage TEXT,
    progress REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    claim TEXT,                    -- token of the worker that owns a running scan
    worker_pid INTEGER,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    verdict TEXT,
    probability REAL,
    threshold REAL,
    error TEXT,
    result TEXT                    -- JSON, schema fakescope.scan/2
);
CREATE INDEX IF NOT EXISTS scans_created ON scans (created_at);
CREATE INDEX IF NOT EXISTS scans_status ON scans (status, created_at);
"""


@dataclass
class ScanRow:
    id: str
    filename: str
    kind: str | None
    size: int
    status: str
    stage: str | None = None
    progress: float = 0.0
    attempts: int = 0
    claim: str | None = None
    worker_pid: int | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    verdict: str | None = None
    probability: float | None = None
    threshold: float | None = None
    error: str | None = None
    result: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED)


_COLUMNS = [f.name for f in fields(ScanRow)]
_LIST_COLUMNS = ", ".join(c if c != "result" else "NULL AS result" for c in _COLUMNS)


def new_scan_id() -> str:
    """32 hex digits: unguessable, so a scan's permanent link is also its access key on an open server."""
    return secrets.token_hex(16)


class Database:
    """Thread-safe handle: each thread gets its own connection (sqlite3 connections are not shareable)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; a power cut loses at most the last writes
            self._local.conn = conn
        return conn

    def create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(_SCHEMA)

    def insert(self, row: ScanRow) -> None:
        self._conn().execute(f"INSERT INTO scans ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                             [getattr(row, c) for c in _COLUMNS])

    def get(self, scan_id: str) -> ScanRow | None:
        r = self._conn().execute("SELECT * FROM scans WHERE id = ?", (scan_id,)).fetchone()
        return ScanRow(**r) if r else None

    def list(self, limit: int = 50, offset: int = 0) -> list[ScanRow]:
        """Newest first, without the result JSON (a history page needs the summary columns only)."""
        rows = self._conn().execute(f"SELECT {_LIST_COLUMNS} FROM scans ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                                    (limit, offset)).fetchall()
        return [ScanRow(**r) for r in rows]

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self._conn().execute("SELECT COUNT(*) FROM scans").fetchone()[0]
        return self._conn().execute("SELECT COUNT(*) FROM scans WHERE status = ?", (status,)).fetchone()[0]

    def ids(self) -> set[str]:
        return {r[0] for r in self._conn().execute("SELECT id FROM scans")}

    def delete(self, scan_id: str) -> bool:
        return self._conn().execute("DELETE FROM scans WHERE id = ?", (scan_id,)).rowcount > 0

    # ---- the worker's side -------------------------------------------------------------------------
    def claim(self, worker_pid: int) -> ScanRow | None:
        """Atomically take the oldest queued scan (one statement, so two workers never get the same)."""
        r = self._conn().execute(
            "UPDATE scans SET status = ?, claim = ?, worker_pid = ?, attempts = attempts + 1, started_at = ?, "
            "stage = 'starting', progress = 0 WHERE id = (SELECT id FROM scans WHERE status = ? "
            "ORDER BY created_at, id LIMIT 1) RETURNING *",
            (RUNNING, secrets.token_hex(8), worker_pid, time.time(), QUEUED)).fetchone()
        return ScanRow(**r) if r else None

    def progress(self, row: ScanRow, stage: str, progress: float) -> None:
        self._conn().execute("UPDATE scans SET stage = ?, progress = ? WHERE id = ? AND claim = ?",
                             (stage, progress, row.id, row.claim))

    def finish(self, row: ScanRow, status: str, *, verdict: str | None = None, probability: float | None = None,
               threshold: float | None = None, error: str | None = None, result: str | None = None) -> bool:
        """Store the outcome; False when the scan was deleted or handed on meanwhile (nothing is written)."""
        cur = self._conn().execute(
            "UPDATE scans SET status = ?, stage = NULL, progress = ?, finished_at = ?, verdict = ?, "
            "probability = ?, threshold = ?, error = ?, result = ?, claim = NULL WHERE id = ? AND claim = ?",
            (status, 1.0 if status == DONE else 0.0, time.time(), verdict, probability, threshold, error, result,
             row.id, row.claim))
        return cur.rowcount > 0

    # ---- after a restart or a crash ----------------------------------------------------------------
    def recover(self, max_attempts: int) -> tuple[int, list[str]]:
        """At start-up, before any worker runs: scans left running by a stopped server go back to the queue,
        or fail with the reason once they have been interrupted `max_attempts` times. Returns (how many were
        requeued, the ids that failed)."""
        conn = self._conn()
        failed = [r[0] for r in conn.execute(
            "UPDATE scans SET status = ?, stage = NULL, claim = NULL, finished_at = ?, error = "
            "'the server stopped during this scan ' || attempts || ' times; giving up' "
            "WHERE status = ? AND attempts >= ? RETURNING id", (FAILED, time.time(), RUNNING, max_attempts))]
        requeued = conn.execute(
            "UPDATE scans SET status = ?, stage = 'resumed after a server restart', progress = 0, claim = NULL "
            "WHERE status = ?", (QUEUED, RUNNING)).rowcount
        return requeued, failed

    def fail(self, scan_id: str, error: str) -> None:
        self._conn().execute("UPDATE scans SET status = ?, stage = NULL, claim = NULL, finished_at = ?, error = ? "
                             "WHERE id = ? AND status IN (?, ?)", (FAILED, time.time(), error, scan_id, QUEUED, RUNNING))

    def fail_worker(self, worker_pid: int, error: str) -> list[str]:
        """A worker process died: fail what it was scanning (retrying a file that crashes it would loop).
        Returns the ids failed."""
        return [r[0] for r in self._conn().execute(
            "UPDATE scans SET status = ?, stage = NULL, claim = NULL, finished_at = ?, error = ? "
            "WHERE status = ? AND worker_pid = ? RETURNING id", (FAILED, time.time(), error, RUNNING, worker_pid))]

    def queued_ids(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT id FROM scans WHERE status = ?", (QUEUED,))]

    def check(self) -> None:
        """Raise FakescopeError, one line with what to do, when the file is not a readable fakescope
        database: not SQLite, truncated, damaged pages, or another program's tables."""
        from fakescope.errors import FakescopeError

        advice = ("restore it from a backup, or move it away together with the scans/ folder beside it to "
                  "start an empty history")
        try:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
                columns = {r[1] for r in conn.execute("PRAGMA table_info(scans)")}
                tables = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise FakescopeError(f"the database {self.path} cannot be read ({exc}): {advice}") from None
        if verdict != "ok":
            raise FakescopeError(f"the database {self.path} is damaged ({verdict[:80]}): {advice}")
        if (columns or tables) and not set(_COLUMNS) <= columns:
            raise FakescopeError(f"{self.path} is not a fakescope database (no scans table with fakescope's "
                                 "columns): is --data-dir the right folder?")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
