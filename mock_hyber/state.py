"""The root of all state: one AccountState per configured account, each with its own store,
clock, engine, planner, outbox and random streams, all derived from the backend's one seed.
`reset()` here is the one reset every caller uses: the pytest fixture, `POST /_mock/reset`
and the tests.

The backend owns what is shared: the code catalogue, the random profile, the magic numbers,
the root random source, the callback delivery ids and the persistence journal (wired here,
the one place that connects the domain objects to it).
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

from mock_hyber.api_faults import ApiFaults
from mock_hyber.callbacks.breaker import BreakerPolicy
from mock_hyber.callbacks.destinations import Destinations
from mock_hyber.callbacks.outbox import Outbox
from mock_hyber.callbacks.policy import CallbackPolicy
from mock_hyber.changes import Changes
from mock_hyber.codes import Catalogue, builtin_catalogue, load_catalogue
from mock_hyber.config import ACCOUNT_OPTIONS, Account, Settings
from mock_hyber.engine.clock import VirtualClock
from mock_hyber.engine.engine import AccountEngine, Reporting
from mock_hyber.engine.evaluate import message_at, messages_at
from mock_hyber.engine.planner import Planner
from mock_hyber.engine.profile import Profile, load_profile
from mock_hyber.engine.rules import ScenarioFile, load_magic, load_scenarios
from mock_hyber.engine.viber_templates import ViberTemplates
from mock_hyber.errors import HyberError
from mock_hyber.ids import IdCodec
from mock_hyber.model import Counter, Job, Message
from mock_hyber.randomness import RandomSource
from mock_hyber.reports import ReportBuilder
from mock_hyber.store.memory import MemoryStore
from mock_hyber.store.retention import Limits, select_expired
from mock_hyber.store.salvage import open_journal, repair
from mock_hyber.store.sqlite import SqliteJournal, StoreDamaged, sqlite_path
from mock_hyber.templating import template_for, template_sources


def merge_profile(base: Profile, overrides: dict[str, object] | None) -> Profile:
    """`base` with per-channel overrides (nested keys replace the base's)."""
    if not overrides:
        return base
    data = base.model_dump()
    for channel, values in overrides.items():
        if not isinstance(values, dict):
            raise ValueError(f"profile.{channel} must be a mapping")
        data[channel] = {**data.get(channel, {}), **values}
    return Profile.model_validate(data)


class AccountState:
    def __init__(self, account: Account, backend: Backend) -> None:
        self.account = self.startup_account = account
        self.backend = backend
        self.settings = backend.settings
        self.ids = IdCodec(backend.random.key(f"{self.client_id}/ids"))
        self.store = MemoryStore(self.ids)
        self.phone_pattern = re.compile(self.settings.phone_pattern)
        self.clock = self._startup_clock()
        policy = CallbackPolicy.of(self.settings, account)
        self.engine = AccountEngine(
            self.clock,
            backend.startup_planner(self.client_id),
            backend.seed,
            Reporting(seen=policy.report_seen, late=policy.report_late),
        )
        self.outbox = Outbox(
            self.client_id,
            policy,
            backend.catalogue,
            new_rng=lambda: backend.random.stream(f"{self.client_id}/callbacks"),
            now_ms=lambda: self.clock.now_ms(),
            ids=backend.delivery_ids,
            breaker=BreakerPolicy.of(self.settings),
        )
        self.api_faults = ApiFaults(lambda: backend.random.stream(f"{self.client_id}/api-faults"))
        self.on_filling: Callable[[], None] | None = None  # wakes the intake loop
        self.reset()

    @property
    def client_id(self) -> str:
        return self.account.client_id

    def reports(self) -> ReportBuilder:
        """Report shapes in this backend's code catalogue."""
        return ReportBuilder(self.backend.catalogue)

    def message(self, message_id: str) -> Message | None:
        """A message as it stands now, by its id."""
        found = self.store.locate(message_id)
        return None if found is None else message_at(*found, self.clock.now_ms())

    def messages(self, job: Job) -> list[Message]:
        """Every message of a job as it stands now."""
        return messages_at(job, self.clock.now_ms())

    def reset(self) -> None:
        """Forget every job and message; restore the start-up clock, scenarios and profile;
        restart the random streams. The same requests after a reset give the same results."""
        if self.backend.journal is not None:
            self.backend.journal.forget_account(self.client_id)
        if self.backend.removal_listeners:
            now_ms = self.clock.now_ms()
            for job in self.store.held_jobs():
                for listener in self.backend.removal_listeners:
                    listener(job, now_ms)
        self.store.reset()
        self.outbox.reset()
        self.api_faults.set([])
        self.clock = self._startup_clock()
        self.jobs_accepted = 0  # numbers the next job (its ids and draws derive from it)
        self.engine.reset(self.clock, self.backend.startup_planner(self.client_id))
        self.scenarios = self.backend.startup_scenarios
        self.use_account(self.startup_account)
        self.viber_templates = self.startup_viber_templates()
        # phone -> virtual ms of its user's last WhatsApp message; replaced, never changed in
        # place, so a job keeps the sessions in force when it was accepted.
        self.whatsapp_sessions: dict[str, int] = {}

    def use_account(self, account: Account) -> None:
        """New callback options (`/_mock/settings`): the outbox and the engine read them for
        what happens from now on; credentials and client_id stay as they are."""
        self.account = account
        policy = CallbackPolicy.of(self.settings, account)
        self.outbox.policy = policy
        self.engine.reporting = Reporting(seen=policy.report_seen, late=policy.report_late)

    def options(self) -> dict[str, Any]:
        """The callback options in force: the account's own, else the server-wide ones."""
        return {
            name: getattr(self.settings, name)
            if getattr(self.account, name) is None
            else getattr(self.account, name)
            for name in ACCOUNT_OPTIONS
        }

    def open_whatsapp_session(self, phone: str, at_ms: int) -> None:
        """The user of `phone` wrote on WhatsApp at `at_ms`: a 24 h session opens."""
        self.whatsapp_sessions = {**self.whatsapp_sessions, phone: at_ms}

    def sessions_for_job(self) -> dict[str, int] | None:
        """The sessions a job accepted now is planned with (None: every number in session)."""
        if self.settings.whatsapp_sessions == "always":
            return None
        return self.whatsapp_sessions

    def startup_viber_templates(self) -> ViberTemplates:
        """The account's Viber template registry from the settings (its own, or the
        server-wide one)."""
        own = self.account.viber_templates
        chosen = own if own is not None else self.settings.viber_templates
        return ViberTemplates.parse(template.model_dump() for template in chosen)

    def _startup_clock(self) -> VirtualClock:
        settings = self.settings
        start = settings.clock_start.timestamp() if settings.clock_start else None
        return VirtualClock(start, settings.clock_speed, settings.clock_frozen)

    def accept_job(self, job: Job) -> None:
        """Keep a newly accepted job: store it, admit it to the engine, make it durable (with
        persistence) before the request is answered, and keep memory within retention."""
        self.jobs_accepted = job.number
        self.engine.admit(job)
        self.store.add_job(job)
        if self.backend.journal is not None:
            self.backend.journal.job_accepted(job, self.snapshot())
        self._accepted(job)

    def accept_deferred(self, job: Job, fill: Iterator[None]) -> None:
        """Keep a job whose recipient columns `fill` completes later, slice by slice (the
        intake loop, or the first read of it). In memory only: with persistence, jobs are
        accepted whole."""
        self.jobs_accepted = job.number
        self.engine.prepare(job)  # the rules in force now decide its plans
        fill = itertools.chain(fill, self.engine.planning(job))
        self.store.add_filling(job, fill, self._filled)
        if self.on_filling is not None:
            self.on_filling()

    def _filled(self, job: Job) -> None:
        if not job.removed:
            self.engine.admit(job)
            self._accepted(job)

    def _accepted(self, job: Job) -> None:
        for listener in self.backend.job_listeners:
            listener(job)
        if len(self.store) > self.settings.retention_max_messages:
            self.enforce_retention()

    def rewrite_message(self, job: Job, index: int, script: bytes, kept: int) -> None:
        """A forced transition: the message's life from now on (durable with persistence)."""
        self.engine.rewrite(job, index, script, kept)
        if self.backend.journal is not None:
            self.backend.journal.message_rewritten(job, index, script, kept)

    def enforce_retention(self) -> tuple[int, int]:
        """Apply the retention limits; returns (jobs removed, deliveries removed)."""
        settings = self.settings
        limits = Limits(
            settings.retention_max_messages,
            settings.retention_max_jobs,
            settings.retention_max_callbacks,
            int(settings.retention_max_age * 1000),
        )
        now_ms = self.clock.now_ms()
        jobs, deliveries = select_expired(self.store, self.outbox.deliveries, limits, now_ms)
        for job in jobs:
            for listener in self.backend.removal_listeners:
                listener(job, now_ms)
        journal = self.backend.journal
        if journal is not None:
            if jobs:
                journal.forget_jobs([job.job_id for job in jobs])
            if deliveries:
                journal.forget_deliveries(deliveries)
        return len(jobs), len(deliveries)

    def use_scenarios(self, scenarios: ScenarioFile) -> None:
        """New rules and profile for messages accepted from now on."""
        base = self.backend.profile
        planner = self.engine.planner.with_rules(
            scenarios.rules, merge_profile(base, scenarios.profile)
        )
        self.engine.planner = planner
        self.scenarios = scenarios

    # -- persistence ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What the journal keeps of the account besides its jobs and deliveries."""
        clock = self.clock
        return {
            "virtual_ms": clock.now_ms(),
            "wall_ms": int(time.time() * 1000),
            "speed": clock.speed,
            "frozen": clock.frozen,
            "jobs_accepted": self.jobs_accepted,
            "emitted_ms": self.engine.emitted_ms,
            "random": self.backend.random.state_of(self.client_id),
            "batches": self.outbox.batches_state(),
        }

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        """Clock and random streams as saved. A running clock continues from its saved time
        plus the downtime (times its speed); a frozen one stays where it was."""
        virtual = state["virtual_ms"] / 1000
        if not state["frozen"]:
            downtime = max(0.0, time.time() - state["wall_ms"] / 1000)
            virtual += downtime * state["speed"]
        self.clock = VirtualClock(virtual, state["speed"], state["frozen"])
        self.engine.clock = self.clock
        self.jobs_accepted = state.get("jobs_accepted", 0)
        # Reports due up to the watermark were handed to the outbox (and saved with it).
        self.engine.skip_through_ms = self.engine.emitted_ms = state.get("emitted_ms", -1)
        saved = state.get("random")
        if saved is None:  # a store written before the root random source
            saved = {
                self.client_id: state["rng"],
                f"{self.client_id}/callbacks": state["callback_rng"],
            }
        self.backend.random.restore(saved)


class Backend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.seed = settings.seed if settings.seed is not None else secrets.randbits(32)
        self.random = RandomSource(self.seed)
        self.catalogue: Catalogue = (
            load_catalogue(settings.codes_file) if settings.codes_file else builtin_catalogue()
        )
        self.profile = load_profile(settings.profile_file)
        self.magic = load_magic()
        self.changes = Changes()
        self.delivery_ids = Counter()
        self.destinations = Destinations(
            settings.callback_allowed_hosts,
            settings.port,
            settings.host,
            settings.callback_block_loopback,
        )
        self.job_listeners: list[Any] = []  # called with each accepted job (metrics)
        self.removal_listeners: list[Any] = []  # called with each dropped job and the time
        self.startup_scenarios = (
            load_scenarios(settings.scenarios_file) if settings.scenarios_file else ScenarioFile()
        )
        self.journal: SqliteJournal | None = None
        self.accounts = {
            account.client_id: AccountState(account, self) for account in settings.accounts
        }
        for account in self.accounts.values():
            account.engine.on_change = self.changes.bump
            account.engine.listeners.append(account.outbox.on_happening)
        self.restored = 0
        if settings.store != "memory":
            path = sqlite_path(settings.store)
            self.journal = open_journal(path, settings.store_repair)
            try:
                self._restore(self.journal)
            except (KeyError, TypeError, ValueError) as exc:  # StoreDamaged is a ValueError
                self.journal.abandon()
                problem = exc if isinstance(exc, StoreDamaged) else None
                if problem is None:  # sound rows holding what this version cannot restore
                    problem = StoreDamaged(
                        f"{path} holds a state that cannot be restored ({exc!r})"
                    )
                if not settings.store_repair:
                    raise problem from None
                # Rows that read but do not decode: repair, then start over on the repaired
                # store (the restore has half-filled this backend).
                repair(path, problem)
                self.__init__(settings.model_copy(update={"store_repair": False}))
                return
            for account in self.accounts.values():
                account.outbox.changed = self.journal.on_delivery

    def startup_planner(self, client_id: str) -> Planner:
        return Planner(
            self.catalogue,
            merge_profile(self.profile, self.startup_scenarios.profile),
            self.magic,
            self.startup_scenarios.rules,
        )

    def account(self, client_id: str) -> AccountState | None:
        return self.accounts.get(client_id)

    def accounts_named(self, client_id: str | None) -> list[AccountState]:
        """The named account, or every account when none is named (a 404 error for a
        client_id that names none)."""
        if client_id is None:
            return list(self.accounts.values())
        account = self.accounts.get(client_id)
        if account is None:
            raise HyberError.named("not_found", f"no account with client_id {client_id}")
        return [account]

    def reset(self, client_id: str | None = None) -> None:
        targets = self.accounts.values() if client_id is None else [self.accounts[client_id]]
        for account in targets:
            account.reset()

    def reports(self) -> ReportBuilder:
        """Report shapes in this backend's code catalogue."""
        return ReportBuilder(self.catalogue)

    def snapshots(self) -> dict[str, dict[str, Any]]:
        return {client_id: account.snapshot() for client_id, account in self.accounts.items()}

    def _restore(self, journal: SqliteJournal) -> None:
        """Load everything stored: the simulation carries on where it was."""
        saved = journal.load_snapshots()
        for client_id, account in self.accounts.items():
            if client_id in saved:
                account.restore_snapshot(saved[client_id])
            for job in journal.load_jobs(client_id):
                job.ids = account.ids
                if account.viber_templates:  # the start-up registry (run-time ones are lost)
                    job.viber_registry = account.viber_templates
                job.whatsapp_sessions = account.sessions_for_job()  # sessions are not kept
                if job.values is not None:
                    top = {"tag": job.tag, "callback_url": job.callback_url}
                    top["division_code"] = job.division_code
                    job.template = template_for(template_sources(job.channel_options, top), "keep")
                account.engine.admit(job)  # replays its plan
                for index, script, kept in journal.load_rewrites(job.job_id):
                    account.engine.rewrite(job, index, script, kept)
                account.store.add_job(job)
                account.jobs_accepted = max(account.jobs_accepted, job.number)
                self.restored += job.size
        highest = 0
        for delivery in journal.load_deliveries():
            account = self.accounts.get(delivery.client_id)
            if account is not None:
                account.outbox.restore(delivery)
                highest = max(highest, delivery.id)
        self.delivery_ids.reserve_through(highest)
        for client_id, account in self.accounts.items():
            if client_id in saved:
                batches = saved[client_id].get("batches", [])
                account.outbox.restore_batches(batches, account.clock.now_ms())
