"""Test tooling: a live server in a thread, a typed control client, a callback receiver.

The pytest plugin (`mock_hyber.testing.plugin`, loaded by the `pytest11` entry point) builds
its fixtures from these; nothing here imports pytest.
"""

import typing

from mock_hyber.testing.client import AsyncMockHyberClient, MockHyberClient
from mock_hyber.testing.models import (
    Acceptance,
    AccountSettings,
    ApiFault,
    CallbackAttempt,
    CallbackDelivery,
    CallbackFaults,
    Clock,
    DelayFault,
    Faults,
    Health,
    JobInfo,
    MagicNumber,
    MessageInfo,
    MockHyberError,
    MockHyberTimeout,
    Plan,
    PlanMoment,
    ReorderFault,
    Scenarios,
)
from mock_hyber.testing.receiver import CallbackReceiver, CallbackReceiverError, ReceivedRequest

if typing.TYPE_CHECKING:
    from mock_hyber.testing.server import LiveServer


def __getattr__(name: str) -> typing.Any:
    # LiveServer brings the whole server: it loads on first use.
    if name == "LiveServer":
        from mock_hyber.testing.server import LiveServer

        globals()["LiveServer"] = LiveServer
        return LiveServer
    raise AttributeError(f"module 'mock_hyber.testing' has no attribute {name!r}")


__all__ = [
    "Acceptance",
    "AccountSettings",
    "ApiFault",
    "AsyncMockHyberClient",
    "CallbackAttempt",
    "CallbackDelivery",
    "CallbackFaults",
    "CallbackReceiver",
    "CallbackReceiverError",
    "Clock",
    "DelayFault",
    "Faults",
    "Health",
    "JobInfo",
    "LiveServer",
    "MagicNumber",
    "MessageInfo",
    "MockHyberClient",
    "MockHyberError",
    "MockHyberTimeout",
    "Plan",
    "PlanMoment",
    "ReceivedRequest",
    "ReorderFault",
    "Scenarios",
]
