"""The users of the tests, on mock_hyber's magic numbers: each one lives a known life
(`GET /_mock/magic` lists them)."""

from __future__ import annotations

from app import Notifier, User

from mock_hyber import MockHyberClient

DELIVERED = "380000000001"  # delivered on the first channel after 1 s
FALLBACK = "380000000002"  # Viber expires at its ttl (60 s), SMS delivers 2 s later
NOTHING = "380000000003"  # every channel expires: failed
INVALID = "380000000004"  # refused at acceptance as an incorrect number

OLENA = User("u-olena", DELIVERED, "Olena")
TARAS = User("u-taras", FALLBACK, "Taras")
IVAN = User("u-ivan", NOTHING, "Ivan")
NOBODY = User("u-nobody", INVALID, "Nobody")


def notifier_for(hyber: MockHyberClient, callback_url: str | None) -> Notifier:
    return Notifier(hyber.base_url, hyber.client_id, hyber.login, hyber.password, callback_url)
