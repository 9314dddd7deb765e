"""The backend's root random source: one seed, from which every random stream is derived by
name and to which all of them are saved and restored together (persistence).

Streams are `random.Random` seeded with the text `"<seed>/<name>"` (hashed with SHA-512, so
stable across runs and Python versions); `key(name)` gives the key of hash-based draws (plans).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any


class RandomSource:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        """The stream `name` from its start (a reset draws the same values again)."""
        rng = random.Random(f"{self.seed}/{name}")
        self._streams[name] = rng
        return rng

    def key(self, name: str) -> bytes:
        """A 32-byte key for draws hashed from ids (the same for the same seed and name)."""
        return hashlib.blake2b(f"{self.seed}/{name}".encode(), digest_size=32).digest()

    def state(self) -> dict[str, Any]:
        """Every stream's position, as JSON-ready data."""
        saved = {}
        for name, rng in self._streams.items():
            version, internal, gauss = rng.getstate()
            saved[name] = [version, list(internal), gauss]
        return saved

    def state_of(self, account: str) -> dict[str, Any]:
        """The streams of one account (named `account` or `account/...`)."""
        return {
            name: value
            for name, value in self.state().items()
            if name == account or name.startswith(f"{account}/")
        }

    def restore(self, saved: dict[str, Any]) -> None:
        """Put streams back where `state()` found them (streams not saved stay as they are)."""
        for name, (version, internal, gauss) in saved.items():
            rng = self._streams.get(name)
            if rng is not None:
                rng.setstate((version, tuple(internal), gauss))
