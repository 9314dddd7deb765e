"""The app's fixtures, built on mock_hyber's pytest plugin (installed with `pip install
mock-hyber`: the fixtures `mock_hyber`, `callback_receiver` and `mock_hyber_server` need no
import). Every test gets a reset account on its own worker's server, so `pytest -n 2` works."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from app import CallbackServer, DeliveryLog, Notifier
from users import notifier_for

from mock_hyber import CallbackReceiver, MockHyberClient


@pytest.fixture
def notifier(
    mock_hyber: MockHyberClient, callback_receiver: CallbackReceiver
) -> Iterator[Notifier]:
    """The app, pointed at the mock, with its reports going to the callback receiver."""
    app = notifier_for(mock_hyber, callback_receiver.url)
    yield app
    app.close()


@pytest.fixture
def delivery_log() -> Iterator[DeliveryLog]:
    yield DeliveryLog()


@pytest.fixture
def app_endpoint(delivery_log: DeliveryLog) -> Iterator[CallbackServer]:
    """The app's own DR endpoint, on a free port."""
    server = CallbackServer(delivery_log).start()
    yield server
    server.stop()
