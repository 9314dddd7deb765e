"""mock_hyber: a stateful simulator of the GMS Hyber JSON V2 messaging API."""

import typing

from mock_hyber.config import Account, Settings, load_settings
from mock_hyber.version import __version__

if typing.TYPE_CHECKING:
    from mock_hyber.app import create_app
    from mock_hyber.testing import (
        AsyncMockHyberClient,
        CallbackReceiver,
        MockHyberClient,
        MockHyberError,
        MockHyberTimeout,
    )
    from mock_hyber.testing.server import LiveServer

# The server (FastAPI and all) and the test tooling load on first use, so importing the package
# (as the pytest plugin does in every test run of a project that installs it) stays cheap and
# a server process never loads the test client.
_LAZY = {
    "create_app": "mock_hyber.app",
    "LiveServer": "mock_hyber.testing.server",
    "AsyncMockHyberClient": "mock_hyber.testing",
    "CallbackReceiver": "mock_hyber.testing",
    "MockHyberClient": "mock_hyber.testing",
    "MockHyberError": "mock_hyber.testing",
    "MockHyberTimeout": "mock_hyber.testing",
}


def __getattr__(name: str) -> typing.Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mock_hyber' has no attribute {name!r}")


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
