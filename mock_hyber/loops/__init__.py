"""The background loops (engine runner, callback dispatcher, store flusher, retention, the
garbage collector's freezer, the intake of large async jobs), wired to
the accounts and started and stopped in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mock_hyber.loops.collector import Collector
from mock_hyber.loops.dispatcher import Dispatcher
from mock_hyber.loops.flusher import Flusher
from mock_hyber.loops.intake import Intake
from mock_hyber.loops.retention import Retention
from mock_hyber.loops.runner import Runner
from mock_hyber.metrics import Metrics
from mock_hyber.state import Backend

if TYPE_CHECKING:
    import httpx


class Loops:
    """Every background task of a server. `start()` wires the accounts' wake-ups to them."""

    def __init__(
        self,
        backend: Backend,
        metrics: Metrics,
        transport: httpx.AsyncBaseTransport | None,
        freeze_held_data: bool = False,
    ) -> None:
        accounts = list(backend.accounts.values())
        self.runner = Runner(accounts)
        self.dispatcher = Dispatcher(
            accounts, backend.settings, transport, metrics, backend.destinations
        )
        self.flusher = Flusher(backend)
        self.retention = Retention(backend)
        self.collector = Collector() if freeze_held_data else None
        self.intake = Intake(accounts)
        backend.job_listeners.append(metrics.on_job)
        backend.removal_listeners.append(metrics.on_removed)
        for account in accounts:
            account.engine.on_schedule = self.runner.wake
            account.outbox.wake = self.dispatcher.wake
            account.on_filling = self.intake.wake
        metrics.watch_queue(lambda: self.dispatcher.queue_depth)
        metrics.watch_loops(self.health)

    def health(self) -> dict[str, dict[str, Any]]:
        """Each loop: items that raised, and why it stopped if it did (None: running)."""
        loops: list[Any] = [self.runner, self.flusher, self.retention, self.intake]
        if self.collector is not None:
            loops.append(self.collector)
        found = {loop.name: {"errors": loop.errors, "dead": loop.dead} for loop in loops}
        dead = next(iter(self.dispatcher.tasks_done()), None)
        found["callbacks"] = {"errors": self.dispatcher.errors, "dead": dead}
        return found

    async def start(self) -> None:
        await self.dispatcher.start()
        self.runner.start()
        self.flusher.start()
        self.retention.start()
        if self.collector is not None:
            self.collector.start()
        self.intake.start()

    async def stop(self) -> None:
        await self.intake.stop()
        if self.collector is not None:
            await self.collector.stop()
        await self.retention.stop()
        await self.runner.stop()
        await self.dispatcher.stop()
        await self.flusher.stop()
