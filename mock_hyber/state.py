"""The root of all state: one AccountState per configured account, each with its own store,
clock, engine, planner and seeded random source. `reset()` here is the one reset every caller
uses: the pytest fixture, `POST /_mock/reset` and the tests."""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable

from mock_hyber.callbacks.outbox import Outbox
from mock_hyber.config import Account, Settings
from mock_hyber.engine.clock import VirtualClock
from mock_hyber.engine.codes import Catalogue, default_catalogue, use_codes_file
from mock_hyber.engine.engine import AccountEngine, Listener
from mock_hyber.engine.planner import Planner
from mock_hyber.engine.profile import Profile, load_profile
from mock_hyber.engine.rules import ScenarioFile, load_magic, load_scenarios
from mock_hyber.service.api_faults import ApiFaults
from mock_hyber.service.changes import Changes
from mock_hyber.store.memory import MemoryStore
from mock_hyber.store.models import Job
from mock_hyber.store.retention import enforce
from mock_hyber.store.sqlite import SqliteJournal, sqlite_path


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
        self.account = account
        self.backend = backend
        self.settings = backend.settings
        self.store = MemoryStore()
        self.phone_pattern = re.compile(self.settings.phone_pattern)
        self.clock = self._startup_clock()
        self.engine = AccountEngine(self.clock, backend.startup_planner(self.client_id))
        self.engine.on_change = backend.changes.bump
        self.outbox = Outbox(self)
        self.api_faults = ApiFaults(backend.seed, self.client_id)
        self.engine.listeners.append(self.outbox.on_happening)
        self.job_listeners: list[Callable[[Job], None]] = []
        self.reset()

    @property
    def client_id(self) -> str:
        return self.account.client_id

    def reset(self) -> None:
        """Forget every job and message; restore the start-up clock, scenarios and profile;
        restart the random source. The same requests after a reset give the same results."""
        if self.backend.journal is not None:
            self.backend.journal.forget_account(self.client_id)
        self.store.reset()
        self.outbox.reset()
        self.api_faults.set([])
        self.clock = self._startup_clock()
        # Seeding with a string is stable across runs (it is hashed with SHA-512).
        self.rng = random.Random(f"{self.backend.seed}/{self.client_id}")
        self.engine.reset(self.clock, self.backend.startup_planner(self.client_id))
        self.scenarios = self.backend.startup_scenarios

    def _startup_clock(self) -> VirtualClock:
        settings = self.settings
        start = settings.clock_start.timestamp() if settings.clock_start else None
        return VirtualClock(start, settings.clock_speed, settings.clock_frozen)

    def accept_job(self, job: Job) -> None:
        """Keep a newly accepted job: store it, queue its start, make it durable (with
        persistence) before the request is answered, and keep memory within retention."""
        journal = self.backend.journal
        self.store.add_job(job)
        self.engine.admit(job, plan_now=journal is not None)
        if journal is not None:
            journal.job_accepted(job, self)
        for listener in self.job_listeners:
            listener(job)
        if len(self.store) > self.settings.retention_max_messages:
            enforce(self)

    def use_scenarios(self, scenarios: ScenarioFile) -> None:
        """New rules and profile for messages accepted from now on."""
        base = self.backend.profile
        planner = self.engine.planner.with_rules(
            scenarios.rules, merge_profile(base, scenarios.profile)
        )
        self.engine.planner = planner
        self.scenarios = scenarios

    def add_listener(self, listener: Listener) -> None:
        self.engine.listeners.append(listener)


class Backend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.seed = settings.seed if settings.seed is not None else secrets.randbits(32)
        if settings.codes_file is not None:
            use_codes_file(settings.codes_file)
        self.catalogue: Catalogue = default_catalogue()
        self.profile = load_profile(settings.profile_file)
        self.magic = load_magic()
        self.changes = Changes()
        self.startup_scenarios = (
            load_scenarios(settings.scenarios_file) if settings.scenarios_file else ScenarioFile()
        )
        self.journal: SqliteJournal | None = None
        self.accounts = {
            account.client_id: AccountState(account, self) for account in settings.accounts
        }
        if settings.store != "memory":
            self.journal = SqliteJournal(sqlite_path(settings.store))
            for account in self.accounts.values():
                self.journal.attach(account)
            self.restored = self.journal.restore(self)

    def startup_planner(self, client_id: str) -> Planner:
        return Planner(
            self.catalogue,
            merge_profile(self.profile, self.startup_scenarios.profile),
            self.magic,
            self.startup_scenarios.rules,
            Planner.key_for(self.seed, client_id),
        )

    def account(self, client_id: str) -> AccountState | None:
        return self.accounts.get(client_id)

    def reset(self, client_id: str | None = None) -> None:
        targets = self.accounts.values() if client_id is None else [self.accounts[client_id]]
        for account in targets:
            account.reset()
