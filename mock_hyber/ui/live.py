"""The dashboard's live updates: one cheap revision token the pages poll with If-None-Match.

The token moves when anything a page shows can have changed: a bump of the backend's changes
(a send, a clock change, a reset, a forced transition), a changed callback delivery, or an
account's clock passing the next planned moment of its messages. With nothing new, a poll
compares a few integers and answers 304: the next moment is looked up again only after a
change or once it has passed.
"""

from __future__ import annotations

from typing import Any

from mock_hyber.service.inspect import upcoming_moments
from mock_hyber.state import AccountState, Backend


class _AccountWatch:
    __slots__ = ("changes_seen", "crossings", "next_ms")

    def __init__(self) -> None:
        self.changes_seen = -1  # the backend's changes.revision when next_ms was looked up
        self.next_ms: int | None = None  # the account's next planned moment then
        self.crossings = 0  # how many times its clock passed such a moment


class Revision:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._watches: dict[str, _AccountWatch] = {}

    def token(self) -> str:
        changes = self.backend.changes.revision
        parts = [str(changes)]
        for account in self.backend.accounts.values():
            watch = self._watches.get(account.client_id)
            if watch is None:
                watch = self._watches[account.client_id] = _AccountWatch()
            now_ms = account.clock.now_ms()
            if watch.changes_seen != changes:
                watch.changes_seen = changes
                watch.next_ms = upcoming_moments(account, now_ms)[1]
            elif watch.next_ms is not None and now_ms >= watch.next_ms:
                watch.crossings += 1
                watch.next_ms = upcoming_moments(account, now_ms)[1]
            parts.append(f"{account.outbox.revision}.{watch.crossings}")
        return "-".join(parts)


def clocks(backend: Backend) -> dict[str, dict[str, Any]]:
    """What the page's clock bar shows (it runs the time on between polls by itself)."""
    return {client_id: _clock(account) for client_id, account in backend.accounts.items()}


def _clock(account: AccountState) -> dict[str, Any]:
    clock = account.clock
    return {"now_ms": clock.now_ms(), "speed": clock.speed, "frozen": clock.frozen}
