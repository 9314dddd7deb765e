"""The root of all state: one AccountState per configured account, each with its own store,
clock and seeded random source. `reset()` here is the one reset every caller uses."""

from __future__ import annotations

import random
import re
import secrets

from mock_hyber.config import Account, Settings
from mock_hyber.engine.clock import VirtualClock
from mock_hyber.store.memory import MemoryStore


class AccountState:
    def __init__(self, account: Account, settings: Settings, seed: int) -> None:
        self.account = account
        self.settings = settings
        self.seed = seed
        self.store = MemoryStore()
        self.phone_pattern = re.compile(settings.phone_pattern)
        self.reset()

    @property
    def client_id(self) -> str:
        return self.account.client_id

    def reset(self) -> None:
        """Forget every job and message, and restart the clock and the random source, so the
        same requests after a reset give the same ids and outcomes."""
        self.store.reset()
        self.clock = VirtualClock()
        # Seeding with a string is stable across runs (it is hashed with SHA-512).
        self.rng = random.Random(f"{self.seed}/{self.client_id}")


class Backend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.seed = settings.seed if settings.seed is not None else secrets.randbits(32)
        self.accounts = {
            account.client_id: AccountState(account, settings, self.seed)
            for account in settings.accounts
        }

    def account(self, client_id: str) -> AccountState | None:
        return self.accounts.get(client_id)

    def reset(self, client_id: str | None = None) -> None:
        targets = self.accounts.values() if client_id is None else [self.accounts[client_id]]
        for account in targets:
            account.reset()
