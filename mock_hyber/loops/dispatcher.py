"""The callback dispatcher: moves due deliveries from every account's outbox to a fair queue
(one line per destination, see callbacks.fair_queue) served by a pool of workers that POST
them with one pooled HTTP client (aiohttp, or httpx). No receiver can hold up another's.

The API never waits on a receiver: requests only add to outboxes. Attempt times, retry backoff
and faults run on each account's virtual clock; timeouts and latency are real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mock_hyber.callbacks.destinations import Destinations
from mock_hyber.callbacks.fair_queue import Destination, FairQueue, destination_key
from mock_hyber.callbacks.senders import Sender, SendError, make_sender
from mock_hyber.callbacks.signing import SIGNATURE_HEADER, signature
from mock_hyber.callbacks.watch import DestinationWatch, destination_of
from mock_hyber.config import Settings
from mock_hyber.metrics import Metrics
from mock_hyber.model import FAILED, Attempt, Delivery
from mock_hyber.state import AccountState

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("mock_hyber.callbacks")
MAX_SLEEP = 1.0
FEED_SLICE = 100  # due deliveries handled between two yields to the event loop (~1 ms)


class Dispatcher:
    def __init__(
        self,
        accounts: Iterable[AccountState],
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None,
        metrics: Metrics | None,
        destinations: Destinations,
    ) -> None:
        self.accounts = list(accounts)
        self._by_client_id = {account.client_id: account for account in self.accounts}
        self.metrics = metrics
        self.settings = settings
        self.watch = DestinationWatch()
        self.errors = 0  # attempts that raised (workers go on)
        self.destinations = destinations
        self._transport = transport
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        per_destination = min(
            settings.callback_destination_concurrency, settings.callback_concurrency
        )
        self._queue = FairQueue(per_destination, limit=self._probe_limit)
        self._sender: Sender | None = None

    def _probe_limit(self, destination: Destination) -> int | None:
        """One request at a time to a destination whose breaker is probing it."""
        client_id, receiver = destination
        account = self._by_client_id.get(client_id)
        half_open = account is not None and account.outbox.breakers.half_open(receiver)
        return 1 if half_open else None

    def wake(self) -> None:
        self._wake.set()

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        concurrency = self.settings.callback_concurrency
        self._sender = make_sender(
            self.settings.callback_client,
            concurrency,
            self.settings.callback_timeout,
            self._transport,
        )
        await self._sender.start()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._feed(), name="callback-feeder")]
        self._tasks += [
            loop.create_task(self._work(), name=f"callback-worker-{n}") for n in range(concurrency)
        ]

    def tasks_done(self) -> list[str]:
        """Why a feeder or worker task ended, if one did (they are not meant to)."""
        ended = []
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                ended.append(f"{task.get_name()}: {task.exception()!r}")
        return ended

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._sender is not None:
            await self._sender.close()

    # -- feeding --------------------------------------------------------------------------

    async def _feed(self) -> None:
        while True:
            self._wake.clear()
            for account in self.accounts:
                if account.engine.catching_up:
                    continue  # a clock change is still reporting: woken once it is done
                now_ms = account.clock.now_ms()
                for n, delivery in enumerate(account.outbox.pop_due(now_ms), 1):
                    if not self._held(account, delivery, now_ms):
                        await self._queue.put(delivery)
                    if n % FEED_SLICE == 0:
                        await asyncio.sleep(0)  # a burst of due retries must not stall the API
            await self._sleep()

    def _held(self, account: AccountState, delivery: Delivery, now_ms: int) -> bool:
        """Record the attempt at once, without a request or a worker, when the destination's
        breaker is open: thousands of reports to a dead receiver cost next to nothing."""
        outbox = account.outbox
        reason = outbox.breakers.holding(destination_of(delivery.url), now_ms)
        if reason is None:
            return False
        outbox.record(delivery, Attempt(len(delivery.attempts) + 1, now_ms, None, reason, 0.0))
        if self.metrics is not None:
            self.metrics.on_held_attempt(delivery.status == FAILED)
        return True

    async def _sleep(self) -> None:
        wait = MAX_SLEEP
        for account in self.accounts:
            due = account.outbox.next_due_ms()
            if due is not None and not account.engine.catching_up:
                seconds = account.clock.real_seconds_until(due / 1000)
                if seconds is not None:
                    wait = min(wait, seconds)
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    # -- sending --------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            delivery, destination = await self._queue.get()
            try:
                await self._attempt(delivery)
            except Exception:  # recorded as an attempt error; a worker never dies
                self.errors += 1
                log.exception("callback attempt %s crashed", delivery.id)
            finally:
                await self._queue.done(destination)

    async def _attempt(self, delivery: Delivery) -> None:
        account = self._by_client_id[delivery.client_id]
        outbox = account.outbox
        headers = {
            "Content-Type": "application/json",
            "X-Mock-Hyber-Delivery": str(delivery.id),
            "X-Mock-Hyber-Attempt": str(delivery.round_attempts + 1),
        }
        if outbox.policy.hmac_secret:
            headers[SIGNATURE_HEADER] = signature(outbox.policy.hmac_secret, delivery.body)
        at_ms = account.clock.now_ms()
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        requested = False  # a request went out (or a DNS look-up failed): the breaker learns
        assert self._sender is not None
        _, receiver = destination_key(delivery)
        # Checked at every send: restored deliveries and redeliveries were accepted under
        # other settings, and a host name may point back at the mock.
        refusal = await self.destinations.refusal_resolved(delivery.url)
        held = None if refusal is not None else outbox.breakers.admit(receiver, at_ms)
        if refusal is not None:
            error = f"refused: {refusal}"
        elif held is not None:
            error = held
        elif self.destinations.unresolvable(delivery.url):
            # a failed look-up is cached: do not wait on DNS for every report
            error = "the host name did not resolve (the failure is cached for 60 s)"
            requested = True
        else:
            requested = True
            try:
                status_code = await self._sender.post(delivery.url, delivery.body, headers)
                if not 200 <= status_code < 300:
                    error = f"HTTP {status_code}"
            except SendError as exc:
                error = str(exc)
        latency_ms = (time.perf_counter() - started) * 1000 if requested else 0.0
        if outbox.deliveries.get(delivery.id) is delivery:  # not wiped by a reset meanwhile
            attempt = Attempt(len(delivery.attempts) + 1, at_ms, status_code, error, latency_ms)
            outbox.record(delivery, attempt, final=refusal is not None)
            if requested:
                outbox.breakers.result(receiver, error, account.clock.now_ms())
        if held is None:
            self.watch.attempted(delivery.url, error)
        if self.metrics is None:
            return
        if held is None:
            self.metrics.on_attempt(error is None, latency_ms / 1000, delivery.status == FAILED)
        else:
            self.metrics.on_held_attempt(delivery.status == FAILED)

    # -- waiting --------------------------------------------------------------------------

    async def settle(self, accounts: Iterable[AccountState], timeout: float = 10.0) -> bool:
        """Wait until no delivery of `accounts` is due now, queued or in flight."""
        chosen = list(accounts)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.wake()
            await asyncio.sleep(0.005)
            busy = (
                self._queue.in_flight
                or self._queue.qsize()
                or any(account.outbox.has_due(account.clock.now_ms()) for account in chosen)
            )
            if not busy:
                return True
        return False
