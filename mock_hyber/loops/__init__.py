"""The background loops (engine runner, callback dispatcher, store flusher, retention, the
garbage collector's freezer), wired to
the accounts and started and stopped in one place."""

from __future__ import annotations

import httpx

from mock_hyber.loops.collector import Collector
from mock_hyber.loops.dispatcher import Dispatcher
from mock_hyber.loops.flusher import Flusher
from mock_hyber.loops.retention import Retention
from mock_hyber.loops.runner import Runner
from mock_hyber.metrics import Metrics
from mock_hyber.state import Backend


class Loops:
    """Every background task of a server. `start()` wires the accounts' wake-ups to them."""

    def __init__(
        self, backend: Backend, metrics: Metrics, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        accounts = list(backend.accounts.values())
        self.runner = Runner(accounts)
        self.dispatcher = Dispatcher(accounts, backend.settings, transport, metrics)
        self.flusher = Flusher(backend)
        self.retention = Retention(backend)
        self.collector = Collector()
        backend.job_listeners.append(metrics.on_job)
        for account in accounts:
            account.engine.on_schedule = self.runner.wake
            account.outbox.wake = self.dispatcher.wake
        metrics.watch_queue(lambda: self.dispatcher.queue_depth)

    async def start(self) -> None:
        await self.dispatcher.start()
        self.runner.start()
        self.flusher.start()
        self.retention.start()
        self.collector.start()

    async def stop(self) -> None:
        await self.collector.stop()
        await self.retention.stop()
        await self.runner.stop()
        await self.dispatcher.stop()
        await self.flusher.stop()
