"""Opt-in persistence: a write-through SQLite journal of the in-memory state.

Memory stays the working set; the journal makes it survive a restart, `kill -9` included:
- an accepted job and its messages (with their planned scripts) are committed before the
  request is answered, so nothing accepted is ever lost;
- progress (each message's step and state, each callback delivery and its attempts, the
  clocks, the random sources and the reports waiting in batches) is written every
  `store_flush_interval` seconds and at shutdown. After a crash, the moments since the last
  flush happen again, so their callbacks may be sent twice (at least once, never lost).

On start the journal restores everything and the simulation carries on: a running clock
continues from its saved time plus the downtime (times its speed), so what fell due while the
server was down happens at once; a frozen clock stays where it was.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from mock_hyber.engine.planner import Planner, route_of
from mock_hyber.model import Attempt, Delivery, Happening, Job, Message, State

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, kind TEXT NOT NULL,
    created_ms INTEGER NOT NULL, begin_ms INTEGER NOT NULL, start_ms INTEGER,
    channels TEXT NOT NULL, channel_options TEXT NOT NULL, callback_url TEXT,
    tag TEXT, division_code TEXT);
CREATE INDEX IF NOT EXISTS jobs_client ON jobs (client_id, created_ms);
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, position INTEGER NOT NULL,
    phone TEXT NOT NULL, extra_id TEXT, accepted INTEGER NOT NULL, state INTEGER NOT NULL,
    text TEXT, personal TEXT, sms_parts INTEGER NOT NULL, error_code INTEGER,
    error_text TEXT, script BLOB, step INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS messages_job ON messages (job_id, position);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, kind TEXT NOT NULL, url TEXT NOT NULL,
    body BLOB NOT NULL, message_ids TEXT NOT NULL, job_ids TEXT NOT NULL,
    created_ms INTEGER NOT NULL, due_ms INTEGER NOT NULL, status TEXT NOT NULL,
    attempts TEXT NOT NULL, note TEXT, round_start INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    client_id TEXT PRIMARY KEY, state TEXT NOT NULL);
"""


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
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._messages: dict[str, Message] = {}
        self._deliveries: dict[int, Delivery] = {}

    # -- hooks (wired by the backend) ------------------------------------------------------

    def on_happening(self, happening: Happening) -> None:
        self._messages[happening.message.message_id] = happening.message

    def on_delivery(self, delivery: Delivery) -> None:
        self._deliveries[delivery.id] = delivery

    def job_accepted(self, job: Job, account_state: dict[str, Any]) -> None:
        """Commit a newly accepted job and its messages before the request is answered, with
        the account's state (its random source drew the ids: a restart must not draw them
        again)."""
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO accounts VALUES (?, ?)",
                (job.client_id, orjson.dumps(account_state).decode()),
            )
            self.db.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    job.job_id,
                    job.client_id,
                    job.kind,
                    job.created_ms,
                    job.begin_ms,
                    job.start_ms,
                    orjson.dumps(job.channels).decode(),
                    orjson.dumps(job.channel_options).decode(),
                    job.callback_url,
                    job.tag,
                    job.division_code,
                ),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (_message_row(m, position) for position, m in enumerate(job.messages)),
            )

    # -- flushing -------------------------------------------------------------------------

    def flush(self, account_states: dict[str, dict[str, Any]]) -> None:
        messages, self._messages = self._messages, {}
        deliveries, self._deliveries = self._deliveries, {}
        with self._transaction():
            self.db.executemany(
                "UPDATE messages SET state=?, step=?, error_code=?, script=? WHERE message_id=?",
                (
                    (int(m.state), m.step, m.error_code, m.script, m.message_id)
                    for m in messages.values()
                ),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO deliveries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (_delivery_row(d) for d in deliveries.values()),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO accounts VALUES (?, ?)",
                ((cid, orjson.dumps(state).decode()) for cid, state in account_states.items()),
            )

    def forget_account(self, client_id: str) -> None:
        self._messages = {
            key: m for key, m in self._messages.items() if m.job.client_id != client_id
        }
        self._deliveries = {
            key: d for key, d in self._deliveries.items() if d.client_id != client_id
        }
        with self._transaction():
            self.db.execute(
                "DELETE FROM messages WHERE job_id IN (SELECT job_id FROM jobs WHERE client_id=?)",
                (client_id,),
            )
            self.db.execute("DELETE FROM jobs WHERE client_id=?", (client_id,))
            self.db.execute("DELETE FROM deliveries WHERE client_id=?", (client_id,))
            self.db.execute("DELETE FROM accounts WHERE client_id=?", (client_id,))

    def forget_jobs(self, job_ids: list[str]) -> None:
        with self._transaction():
            self.db.executemany("DELETE FROM messages WHERE job_id=?", ((j,) for j in job_ids))
            self.db.executemany("DELETE FROM jobs WHERE job_id=?", ((j,) for j in job_ids))

    def forget_deliveries(self, ids: list[int]) -> None:
        for delivery_id in ids:
            self._deliveries.pop(delivery_id, None)  # or the next flush writes it back
        with self._transaction():
            self.db.executemany("DELETE FROM deliveries WHERE id=?", ((i,) for i in ids))

    def close(self, account_states: dict[str, dict[str, Any]]) -> None:
        self.flush(account_states)
        self.db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    # -- restoring ------------------------------------------------------------------------

    def load_snapshots(self) -> dict[str, dict[str, Any]]:
        """Each account's saved state (clock, random streams, batches), by client_id."""
        rows = self.db.execute("SELECT client_id, state FROM accounts")
        return {row[0]: orjson.loads(row[1]) for row in rows}

    def load_deliveries(self) -> list[Delivery]:
        return [
            _delivery_from_row(row)
            for row in self.db.execute("SELECT * FROM deliveries ORDER BY id")
        ]

    def load_jobs(self, client_id: str, planner: Planner) -> list[Job]:
        """The account's jobs, oldest first, with their messages as they were last written."""
        loaded = []
        jobs = self.db.execute(
            "SELECT * FROM jobs WHERE client_id=? ORDER BY created_ms", (client_id,)
        ).fetchall()
        for row in jobs:
            job = Job(
                job_id=row[0],
                client_id=row[1],
                kind=row[2],
                created_ms=row[3],
                begin_ms=row[4],
                start_ms=row[5],
                channels=tuple(orjson.loads(row[6])),
                channel_options=orjson.loads(row[7]),
                callback_url=row[8],
                tag=row[9],
                division_code=row[10],
            )
            job.route = route_of(job)
            job.planner = planner
            for m in self.db.execute(
                "SELECT * FROM messages WHERE job_id=? ORDER BY position", (job.job_id,)
            ):
                job.messages.append(
                    Message(
                        message_id=m[0],
                        job=job,
                        phone=m[3],
                        extra_id=m[4],
                        accepted=bool(m[5]),
                        state=State(m[6]),
                        text=m[7],
                        personal=orjson.loads(m[8]) if m[8] else None,
                        sms_parts=m[9],
                        error_code=m[10],
                        error_text=m[11],
                        script=m[12],
                        step=m[13],
                    )
                )
            loaded.append(job)
        return loaded


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")


def _message_row(m: Message, position: int) -> tuple[Any, ...]:
    personal = orjson.dumps(m.personal).decode() if m.personal is not None else None
    return (
        m.message_id,
        m.job.job_id,
        position,
        m.phone,
        m.extra_id,
        int(m.accepted),
        int(m.state),
        m.text,
        personal,
        m.sms_parts,
        m.error_code,
        m.error_text,
        m.script,
        m.step,
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


def _delivery_from_row(row: tuple[Any, ...]) -> Delivery:
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
