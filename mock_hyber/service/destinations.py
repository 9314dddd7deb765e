"""Each callback destination (an account and a receiver, scheme://host:port) as the control API
shows it: its deliveries by status, its last error and its circuit breaker."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from typing import Any

from mock_hyber.callbacks.watch import destination_of
from mock_hyber.model import DELIVERED, DROPPED, FAILED, PENDING, QUEUED
from mock_hyber.state import AccountState

SLICE = 20_000  # deliveries counted between two yields to the event loop


async def destination_summaries(accounts: Iterable[AccountState]) -> list[dict[str, Any]]:
    """One entry per destination that has a delivery or a breaker, by account then receiver."""
    summaries = []
    for account in accounts:
        outbox = account.outbox
        counts: Counter[tuple[str, str]] = Counter()
        for n, delivery in enumerate(list(outbox.deliveries.values()), 1):
            counts[(destination_of(delivery.url), delivery.status)] += 1
            if n % SLICE == 0:
                await asyncio.sleep(0)  # a million deliveries must not hold up the API
        receivers = {receiver for receiver, _ in counts} | {r for r, _ in outbox.breakers}
        for receiver in sorted(receivers):
            breaker = outbox.breakers.get(receiver)
            breaker_view = breaker.view() if breaker is not None else None
            summaries.append(
                {
                    "client_id": account.client_id,
                    "destination": receiver,
                    "pending": counts[(receiver, PENDING)] + counts[(receiver, QUEUED)],
                    "delivered": counts[(receiver, DELIVERED)],
                    "failed": counts[(receiver, FAILED)],
                    "dropped": counts[(receiver, DROPPED)],
                    "last_error": breaker_view["last_error"] if breaker_view else None,
                    "last_error_at": breaker_view["last_error_at"] if breaker_view else None,
                    "breaker": breaker_view or {"state": "closed"},
                }
            )
    return summaries
