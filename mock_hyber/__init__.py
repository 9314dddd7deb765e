"""mock_hyber: a stateful simulator of the GMS Hyber JSON V2 messaging API."""

__version__ = "0.1.0"

from mock_hyber.app import create_app
from mock_hyber.config import Account, Settings, load_settings
from mock_hyber.testing import (
    AsyncMockHyberClient,
    CallbackReceiver,
    LiveServer,
    MockHyberClient,
    MockHyberError,
    MockHyberTimeout,
)

__all__ = [
    "Account",
    "AsyncMockHyberClient",
    "CallbackReceiver",
    "LiveServer",
    "MockHyberClient",
    "MockHyberError",
    "MockHyberTimeout",
    "Settings",
    "__version__",
    "create_app",
    "load_settings",
]
