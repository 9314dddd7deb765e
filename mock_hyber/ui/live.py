"""The dashboard's live updates: one cheap revision token the pages poll with If-None-Match.

The token moves with a bump of the backend's changes (a send, a clock change, a reset, a
forced transition) and with each changed callback delivery: a poll with nothing new compares
a few integers and answers 304. Changes that time alone brings (a planned moment passing on a
running clock) cost the server nothing: each page carries the next moment of what it shows
(`next_moments`), and its script asks for a refresh once its clock has passed it.
"""

from __future__ import annotations

from typing import Any

from mock_hyber.state import AccountState, Backend


def token(backend: Backend) -> str:
    parts = [str(backend.changes.revision)]
    parts += [str(account.outbox.revision) for account in backend.accounts.values()]
    return "-".join(parts)


def clocks(backend: Backend) -> dict[str, dict[str, Any]]:
    """What the page's clock bar shows (it runs the time on between polls by itself)."""
    return {client_id: _clock(account) for client_id, account in backend.accounts.items()}


def _clock(account: AccountState) -> dict[str, Any]:
    clock = account.clock
    return {"now_ms": clock.now_ms(), "speed": clock.speed, "frozen": clock.frozen}


def soonest(moments: dict[str, int | None], client_id: str, at_ms: int | None) -> None:
    """Keep in `moments` the account's soonest next moment (virtual ms)."""
    if at_ms is None:
        return
    known = moments.get(client_id)
    moments[client_id] = at_ms if known is None else min(known, at_ms)
