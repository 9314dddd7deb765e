"""Opt-in persistence: a write-through SQLite journal of what was accepted and acknowledged.

Memory stays the working set; the journal makes it survive a restart, `kill -9` included. It
holds inputs, not progress, because every message's life is a pure function of its plan:
- an accepted job (the request once, plus its recipient columns) is committed before the
  request is answered, so nothing accepted is ever lost; so is a forced transition;
- the callback log (each delivery and its attempts), the clocks, the random streams, the
  reports waiting in batches and the engine's watermark (every report due up to it was handed
  to the outbox) are written every `store_flush_interval` seconds and at shutdown.
On start the plans are replayed: the messages stand where the clock says, and a report due
after the saved watermark is made again (so one may be sent twice after a crash: at least
once, never lost). A running clock continues from its saved time plus the downtime (times its
speed), so what fell due while the server was down happens at once; a frozen one stays put.

A start first checks the file, read-only (a refusal changes nothing): a damaged file, or one that
lost committed data (see `commits.py`), raises `StoreDamaged`; `salvage.py` can repair it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from mock_hyber.model import Attempt, Delivery, Job, Rejection, TextColumn
from mock_hyber.store.commits import CommitRecord, record_path

log = logging.getLogger("mock_hyber.store")

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, number INTEGER NOT NULL,
    kind TEXT NOT NULL, created_ms INTEGER NOT NULL, start_ms INTEGER,
    channels TEXT NOT NULL, channel_options TEXT NOT NULL, callback_url TEXT,
    tag TEXT, division_code TEXT, size INTEGER NOT NULL, phones BLOB NOT NULL,
    extra_ids TEXT, texts TEXT, subs TEXT, sms_parts BLOB NOT NULL, rejected TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_client ON jobs (client_id, number);
CREATE TABLE IF NOT EXISTS rewrites (
    job_id TEXT NOT NULL, position INTEGER NOT NULL, script BLOB NOT NULL,
    kept INTEGER NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, kind TEXT NOT NULL, url TEXT NOT NULL,
    body BLOB NOT NULL, message_ids TEXT NOT NULL, job_ids TEXT NOT NULL,
    created_ms INTEGER NOT NULL, due_ms INTEGER NOT NULL, status TEXT NOT NULL,
    attempts TEXT NOT NULL, note TEXT, round_start INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    client_id TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('commits', 0);
"""
# The tables a repair copies, with their column counts (meta is made anew).
TABLES = {"accounts": 2, "jobs": 18, "rewrites": 5, "deliveries": 13}
REPAIR_HINT = "start with --repair to keep what can be read and set the rest aside"


class StoreError(ValueError):
    """The store file cannot be used (written by an older version, or not a database)."""


class StoreDamaged(StoreError):
    """The store file is damaged or lost committed data: a repair can keep what is readable."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem}: {REPAIR_HINT}")
        self.problem = problem


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative/path.db` or `sqlite:////absolute/path.db` (SQLAlchemy's form)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"store must be 'memory' or sqlite:///path, not {url!r}")
    return Path(url[len(prefix) :])


class SqliteJournal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        new = not path.exists()
        if not new:
            check(path)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.commits = committed(self.db)
        except sqlite3.Error as exc:  # e.g. locked by another process, or a read-only file
            raise StoreError(f"{path} cannot be opened for writing ({exc})") from None
        self.record = CommitRecord(path)
        if not new and self.commits and self.record.read() is None:
            log.warning(
                "%s has no commit record (%s): it cannot be checked for lost commits this time",
                path,
                self.record.path.name,
            )
        self.record.write(self.commits)  # new, or catching up after a kill right after COMMIT
        self._deliveries: dict[int, Delivery] = {}

    # -- hooks (wired by the backend) ------------------------------------------------------

    def on_delivery(self, delivery: Delivery) -> None:
        self._deliveries[delivery.id] = delivery

    def job_accepted(self, job: Job, account_state: dict[str, Any]) -> None:
        """Commit a newly accepted job before the request is answered, with the account's
        state (its counter numbered the job: a restart must not number another the same)."""
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO accounts VALUES (?, ?)",
                (job.client_id, orjson.dumps(account_state).decode()),
            )
            self.db.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                _job_row(job),
            )

    def message_rewritten(self, job: Job, index: int, script: bytes, kept: int) -> None:
        """Commit a forced transition (it is input, like an accepted job)."""
        with self._transaction():
            self.db.execute(
                "INSERT INTO rewrites (job_id, position, script, kept) VALUES (?,?,?,?)",
                (job.job_id, index, script, kept),
            )

    # -- flushing -------------------------------------------------------------------------

    def flush(self, account_states: dict[str, dict[str, Any]]) -> None:
        deliveries, self._deliveries = self._deliveries, {}
        with self._transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO deliveries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (_delivery_row(d) for d in deliveries.values()),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO accounts VALUES (?, ?)",
                ((cid, orjson.dumps(state).decode()) for cid, state in account_states.items()),
            )

    def forget_account(self, client_id: str) -> None:
        self._deliveries = {
            key: d for key, d in self._deliveries.items() if d.client_id != client_id
        }
        with self._transaction():
            self.db.execute(
                "DELETE FROM rewrites WHERE job_id IN (SELECT job_id FROM jobs WHERE client_id=?)",
                (client_id,),
            )
            self.db.execute("DELETE FROM jobs WHERE client_id=?", (client_id,))
            self.db.execute("DELETE FROM deliveries WHERE client_id=?", (client_id,))
            self.db.execute("DELETE FROM accounts WHERE client_id=?", (client_id,))

    def forget_jobs(self, job_ids: list[str]) -> None:
        with self._transaction():
            self.db.executemany("DELETE FROM rewrites WHERE job_id=?", ((j,) for j in job_ids))
            self.db.executemany("DELETE FROM jobs WHERE job_id=?", ((j,) for j in job_ids))

    def forget_deliveries(self, ids: list[int]) -> None:
        for delivery_id in ids:
            self._deliveries.pop(delivery_id, None)  # or the next flush writes it back
        with self._transaction():
            self.db.executemany("DELETE FROM deliveries WHERE id=?", ((i,) for i in ids))

    def close(self, account_states: dict[str, dict[str, Any]]) -> None:
        self.flush(account_states)
        self.db.close()
        self.record.close()

    def abandon(self) -> None:
        """Close without writing anything (a start that does not go ahead)."""
        self.db.close()
        self.record.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    # -- restoring ------------------------------------------------------------------------

    def load_snapshots(self) -> dict[str, dict[str, Any]]:
        """Each account's saved state (clock, random streams, batches), by client_id."""
        with self._reading():
            rows = self.db.execute("SELECT client_id, state FROM accounts").fetchall()
            return {row[0]: orjson.loads(row[1]) for row in rows}

    def load_deliveries(self) -> list[Delivery]:
        with self._reading():
            rows = self.db.execute("SELECT * FROM deliveries ORDER BY id").fetchall()
            return [delivery_from_row(row) for row in rows]

    def load_jobs(self, client_id: str) -> list[Job]:
        """The account's jobs, oldest first, as they were accepted."""
        with self._reading():
            rows = self.db.execute(
                "SELECT * FROM jobs WHERE client_id=? ORDER BY number", (client_id,)
            ).fetchall()
            return [job_from_row(row) for row in rows]

    def load_rewrites(self, job_id: str) -> list[tuple[int, bytes, int]]:
        """A job's forced transitions, in the order they were made: (index, script, kept)."""
        with self._reading():
            rows = self.db.execute(
                "SELECT position, script, kept FROM rewrites WHERE job_id=? ORDER BY seq",
                (job_id,),
            ).fetchall()
            return [(row[0], bytes(row[1]), row[2]) for row in rows]

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A damaged file is a clean start-up error naming it, not a traceback."""
        try:
            yield
        except (sqlite3.DatabaseError, orjson.JSONDecodeError, ValueError, TypeError) as exc:
            raise StoreDamaged(f"{self.path} is damaged ({exc})") from None


class _Transaction:
    """Each transaction counts itself, and the count goes to the commit record once COMMIT has
    returned (before the caller answers anyone)."""

    def __init__(self, journal: SqliteJournal) -> None:
        self.journal = journal

    def __enter__(self) -> None:
        self.journal.db.execute("BEGIN")

    def __exit__(self, kind: object, *_: object) -> None:
        db = self.journal.db
        if kind:
            db.execute("ROLLBACK")
            return
        try:
            db.execute("UPDATE meta SET value = value + 1 WHERE key = 'commits'")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self.journal.commits += 1
        self.journal.record.write(self.journal.commits)


def read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change the file (nor checkpoint its WAL when it closes)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def committed(db: sqlite3.Connection) -> int:
    """The commits the database counts (0 in a store written before they were counted)."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'commits'").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
    return int(row[0]) if row else 0


def check(path: Path) -> None:
    """Refuse an existing store that cannot be used as it is, without changing it: another
    format (StoreError), or damaged pages or lost commits (StoreDamaged)."""
    try:
        db = read_only(path)
    except sqlite3.Error as exc:
        raise StoreDamaged(f"{path} cannot be opened ({exc})") from None
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        damage = db.execute("PRAGMA quick_check").fetchone()[0]
        commits = committed(db) if tables and version == SCHEMA_VERSION else 0
    except sqlite3.DatabaseError as exc:
        raise StoreDamaged(f"{path} is not a mock_hyber store, or is damaged ({exc})") from None
    finally:
        db.close()
    if damage != "ok":
        raise StoreDamaged(f"{path} is damaged ({damage})")
    if tables and version != SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by another version of mock_hyber (store format "
            f"{version}, this one reads {SCHEMA_VERSION}): remove it or use another file"
        )
    recorded = CommitRecord(path).read()
    if recorded is not None and commits < recorded:
        raise StoreDamaged(
            f"{path} lost committed data: it holds {commits} of the {recorded} commits counted "
            f"in {record_path(path).name} (its -wal file is cut short or missing)"
        )


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _job_row(job: Job) -> tuple[Any, ...]:
    subs = None if job.values is None else job.values.to_list()
    rejected = {str(i): [r.code, r.text, r.phone] for i, r in job.rejected.items()}
    return (
        job.job_id,
        job.client_id,
        job.number,
        job.kind,
        job.created_ms,
        job.start_ms,
        orjson.dumps(job.channels).decode(),
        orjson.dumps(job.channel_options).decode(),
        job.callback_url,
        job.tag,
        job.division_code,
        job.size,
        job.phones.astype("<i8").tobytes(),
        _json(None if job.extra_ids is None else job.extra_ids.to_list()),
        _json(None if job.texts is None else job.texts.to_list()),
        _json(subs),
        job.sms_parts.astype(np.uint8).tobytes(),
        orjson.dumps(rejected).decode(),
    )


def job_from_row(row: tuple[Any, ...]) -> Job:
    subs = None if row[15] is None else orjson.loads(row[15])
    return Job(
        job_id=row[0],
        client_id=row[1],
        number=row[2],
        kind=row[3],
        created_ms=row[4],
        start_ms=row[5],
        channels=tuple(orjson.loads(row[6])),
        channel_options=orjson.loads(row[7]),
        callback_url=row[8],
        tag=row[9],
        division_code=row[10],
        size=row[11],
        phones=np.frombuffer(row[12], "<i8").astype(np.int64),
        extra_ids=None if row[13] is None else TextColumn(orjson.loads(row[13])),
        texts=None if row[14] is None else TextColumn(orjson.loads(row[14])),
        values=None if subs is None else TextColumn(subs),
        sms_parts=np.frombuffer(row[16], np.uint8).copy(),
        rejected={int(i): Rejection(*r) for i, r in orjson.loads(row[17]).items()},
    )


def _delivery_row(d: Delivery) -> tuple[Any, ...]:
    attempts = [[a.number, a.at_ms, a.status_code, a.error, a.latency_ms] for a in d.attempts]
    return (
        d.id,
        d.client_id,
        d.kind,
        d.url,
        d.body,
        orjson.dumps(d.message_ids).decode(),
        orjson.dumps(d.job_ids).decode(),
        d.created_ms,
        d.due_ms,
        d.status,
        orjson.dumps(attempts).decode(),
        d.note,
        d.round_start,
    )


def delivery_from_row(row: tuple[Any, ...]) -> Delivery:
    return Delivery(
        id=row[0],
        client_id=row[1],
        kind=row[2],
        url=row[3],
        body=bytes(row[4]),
        message_ids=tuple(orjson.loads(row[5])),
        job_ids=tuple(orjson.loads(row[6])),
        created_ms=row[7],
        due_ms=row[8],
        status=row[9],
        attempts=[Attempt(*item) for item in orjson.loads(row[10])],
        note=row[11],
        round_start=row[12],
    )
