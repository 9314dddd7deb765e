"""Opening the store at start-up, and `--repair` (`store_repair`) of one that is damaged.

A repair keeps what can be read and never edits the damaged files: every row that can be read
and decoded is copied into a fresh store, the damaged files are set aside, as a set SQLite can
still open (`<store>.damaged-<UTC time>`, with its `-wal`, and the old commit record as its
`-commits`), and the fresh store takes the original name, to open as usual.

Reading around damage, the way `sqlite3`'s `.recover` does but with the Python driver alone:
each table is scanned in rowid order; where a page cannot be read, the scan resumes at the
smallest rowid past the damage that it can reach (found by doubling steps, then halving back).
A row lost that way is simply missing; a row that reads but does not decode is dropped too.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mock_hyber.store.commits import CommitRecord, record_path
from mock_hyber.store.sqlite import (
    SCHEMA,
    SCHEMA_VERSION,
    TABLES,
    SqliteJournal,
    StoreDamaged,
    committed,
    delivery_from_row,
    job_from_row,
    read_only,
)

log = logging.getLogger("mock_hyber.store")

HIGHEST_ROWID = 2**63 - 1


@dataclass
class Salvage:
    kept: dict[str, int] = field(default_factory=dict)  # rows copied, by table
    dropped: int = 0  # rows that were read but did not decode
    damaged_regions: int = 0  # places where a scan met an unreadable page
    commits: int = 0  # the commits the readable database counted
    recorded: int | None = None  # the commits its record counted
    aside: Path | None = None
    aside_also: list[str] = field(default_factory=list)  # suffixes set aside with it
    readable: bool = True  # False: not even the list of tables could be read


def open_journal(path: Path, allowed: bool) -> SqliteJournal:
    """The store's journal; a damaged store is refused (StoreDamaged) unless a repair is
    `allowed`."""
    try:
        return SqliteJournal(path)
    except StoreDamaged as problem:
        if not allowed:
            raise
        repair(path, problem)
    return SqliteJournal(path)


def repair(path: Path, problem: StoreDamaged) -> Salvage:
    log.warning("repairing the store: %s", problem.problem)
    result = salvage(path)
    log.warning("store repaired: %s", describe(result, path))
    return result


def salvage(path: Path) -> Salvage:
    """Copy what can be read into a fresh store, set the damaged files aside, and put the fresh
    store in their place. In this order a repair stopped at any step (a kill, a full disk)
    leaves a store that is refused again or one that holds what the repair would keep: the
    damaged files stay in place until the fresh one is renamed over them, last."""
    result = Salvage(recorded=CommitRecord(path).read())
    fresh = path.with_name(path.name + ".repairing")
    fresh.unlink(missing_ok=True)
    target = sqlite3.connect(fresh, isolation_level=None)
    try:
        target.executescript(SCHEMA)
        target.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        target.execute("BEGIN")
        _copy(path, target, result)
        target.execute("UPDATE meta SET value = 1 WHERE key = 'commits'")
        target.execute("COMMIT")
    finally:
        target.close()
    result.aside = set_aside(path)
    result.aside_also = [x for x in ("-wal", "-commits") if Path(f"{result.aside}{x}").exists()]
    record = CommitRecord(path)
    record.write(1)  # the fresh store's one commit
    record.close()
    os.replace(fresh, path)
    return result


def set_aside(path: Path) -> Path:
    """Keep the damaged files as `<store>.damaged-<UTC time>[-wal|-commits]`: the database is
    linked there (it stays in place until the fresh store replaces it), the commit record copied
    (it is rewritten in place), the -wal moved (without it, the database is refused again); the
    -shm, only an index of the WAL and rebuilt when needed, goes."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 1
    while aside.exists():  # a second repair within the same second
        number += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}.{number}")
    try:
        os.link(path, aside)
    except OSError:  # a file system without hard links
        shutil.copy2(path, aside)
    if record_path(path).exists():
        shutil.copy2(record_path(path), f"{aside}-commits")
    if Path(f"{path}-wal").exists():
        Path(f"{path}-wal").rename(f"{aside}-wal")
    Path(f"{path}-shm").unlink(missing_ok=True)
    return aside


def _copy(damaged: Path, target: sqlite3.Connection, result: Salvage) -> None:
    try:
        source = read_only(damaged)
    except sqlite3.Error:
        result.readable = False
        return
    try:
        try:
            names = {row[0] for row in source.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError:
            result.readable = False
            return
        try:
            result.commits = committed(source)
        except sqlite3.DatabaseError:
            result.commits = 0
        for table, width in TABLES.items():
            if table not in names:
                continue
            valid = VALIDATORS[table]
            kept = 0
            for row in readable_rows(source, table, result):
                if len(row) != width or not _decodes(valid, row):
                    result.dropped += 1
                    continue
                marks = ",".join("?" * width)
                target.execute(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", row)
                kept += 1
            result.kept[table] = kept
    finally:
        source.close()


def readable_rows(db: sqlite3.Connection, table: str, result: Salvage) -> list[tuple[Any, ...]]:
    """Every row of `table` that can be read, in rowid order, stepping over damaged pages.
    (`rowid >= n` makes SQLite seek straight to n: `rowid > n - 1` would visit n - 1 first.)"""
    rows: list[tuple[Any, ...]] = []
    start = -HIGHEST_ROWID  # the scan goes on from this rowid
    query = f"SELECT rowid, * FROM {table} WHERE rowid >= ? ORDER BY rowid"
    while True:
        try:
            for row in db.execute(query, (start,)):
                start = row[0] + 1
                rows.append(tuple(row[1:]))
            return rows
        except sqlite3.DatabaseError:
            pass
        # The driver reads a row ahead, so the last row before the damage is fetched alone.
        try:
            found = db.execute(query + " LIMIT 1", (start,)).fetchall()
        except sqlite3.DatabaseError:
            result.damaged_regions += 1
            resume = _past_the_damage(db, query + " LIMIT 1", start)
            if resume is None:
                return rows
            start = resume
            continue
        if not found:
            return rows
        start = found[0][0] + 1
        rows.append(tuple(found[0][1:]))


def _past_the_damage(db: sqlite3.Connection, query: str, start: int) -> int | None:
    """The smallest rowid above `start` from which the next row (or the end) can be read."""

    def readable(bound: int) -> bool:
        try:
            db.execute(query, (bound,)).fetchall()
        except sqlite3.DatabaseError:
            return False
        return True

    step = 1
    while not readable(start + step):
        if start + step >= HIGHEST_ROWID:
            return None
        step = min(step * 2, HIGHEST_ROWID - start)
    low, high = start + step // 2, start + step  # low may be unreadable, high is not
    while high - low > 1:
        middle = (low + high) // 2
        if readable(middle):
            high = middle
        else:
            low = middle
    return high


def _decodes(valid: Callable[[tuple[Any, ...]], object], row: tuple[Any, ...]) -> bool:
    try:
        valid(row)
    except Exception:  # any way a damaged value can fail to decode
        return False
    return True


def _account(row: tuple[Any, ...]) -> None:
    state = orjson.loads(row[1])
    clock = [state["virtual_ms"], state["wall_ms"], state["speed"]]
    if not isinstance(row[0], str) or not all(isinstance(x, int | float) for x in clock):
        raise ValueError("not an account state")


def _rewrite(row: tuple[Any, ...]) -> None:
    if not (isinstance(row[0], str) and isinstance(row[2], bytes)):
        raise ValueError("not a forced transition")
    int(row[1]), int(row[3]), int(row[4])


VALIDATORS: dict[str, Callable[[tuple[Any, ...]], object]] = {
    "accounts": _account,
    "jobs": job_from_row,
    "rewrites": _rewrite,
    "deliveries": delivery_from_row,
}


def describe(result: Salvage, path: Path) -> str:
    """What a repair kept and what it set aside, in one line."""
    if not result.readable:
        kept = "nothing could be read, so the store starts empty"
    else:
        kept = (
            f"kept {result.kept.get('jobs', 0)} jobs, {result.kept.get('deliveries', 0)} "
            f"callback deliveries, {result.kept.get('rewrites', 0)} forced transitions and "
            f"{result.kept.get('accounts', 0)} account states"
        )
        if result.recorded is not None and result.commits < result.recorded:
            kept += f"; {result.recorded - result.commits} of {result.recorded} commits were lost"
        if result.damaged_regions or result.dropped:
            kept += (
                f"; skipped {result.damaged_regions} damaged regions and "
                f"{result.dropped} rows that did not decode"
            )
    also = f" (with its {' and '.join(result.aside_also)})" if result.aside_also else ""
    return f"{kept}; the damaged files are set aside as {result.aside}{also}; {path} is new"
