"""Test tooling: a live server in a thread, a typed control client, a callback receiver.

The pytest plugin (`mock_hyber.testing.plugin`, loaded by the `pytest11` entry point) builds
its fixtures from these; nothing here imports pytest.
"""

from mock_hyber.testing.client import AsyncMockHyberClient, MockHyberClient
from mock_hyber.testing.models import (
    Acceptance,
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
from mock_hyber.testing.server import LiveServer

__all__ = [
    "Acceptance",
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
