"""The store's commit record: how many transactions the store has committed, kept beside it in
`<store>-commits`, so a start can tell whether committed data went missing.

Why our own record: SQLite cannot tell. A -wal file cut short, or gone, leaves a valid database
(the frames before the cut, or none); what was committed after that is silently not there. And
a walk over the WAL's frame checksums cannot tell either: a cut in the middle of a transaction
looks just like a `kill -9` while one was being written, which loses nothing acknowledged.
So every transaction also counts itself inside the database (the `meta` table), and once
COMMIT has returned, the count is written here. The store's request handlers answer only after
that, so every acknowledged write is counted: a database that counts fewer commits than this
record lost some. A kill between COMMIT and this write leaves the record one behind (it
catches up at the next start); that is never taken for damage.

The record is written, not fsynced: what a killed process wrote is in the page cache and
survives it, which is the guarantee the store gives (a machine that loses power may also lose
the last commits: SQLite runs with `synchronous=NORMAL`).
"""

from __future__ import annotations

import os
from pathlib import Path

WIDTH = 20  # digits; a fixed width, so each update is one small write over the last


class CommitRecord:
    def __init__(self, store: Path) -> None:
        self.path = record_path(store)
        self._fd: int | None = None

    def read(self) -> int | None:
        """The recorded count; None when there is no record (or it cannot be read)."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() else None

    def write(self, commits: int) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        os.pwrite(self._fd, f"{commits:0{WIDTH}d}\n".encode("ascii"), 0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def record_path(store: Path) -> Path:
    return store.with_name(store.name + "-commits")
