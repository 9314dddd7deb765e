"""The app with Hyber's batched reports (this folder's conftest.py), and a test that asks for
single reports with the plugin's marker."""

from __future__ import annotations

import pytest
from app import Notifier, User
from users import OLENA

from mock_hyber import CallbackReceiver, MockHyberClient

PETRO = User("u-petro", "380000000006", "Petro")  # delivered on the first channel after 1 s


def test_reports_arrive_in_one_batch(
    notifier: Notifier, mock_hyber: MockHyberClient, callback_receiver: CallbackReceiver
) -> None:
    notifier.send_batch([OLENA, PETRO], "Your order has shipped")
    mock_hyber.advance(10)  # both delivered at 1 s; the batch leaves 5 s later
    [request] = callback_receiver.wait_for(1, timeout=5, requests=True)
    assert sorted(report["extra_id"] for report in request.body) == [OLENA.id, PETRO.id]
    assert all(isinstance(report["number"], str) for report in request.body)


@pytest.mark.mock_hyber(callback_mode="single")
def test_a_marker_asks_for_single_reports(
    notifier: Notifier, mock_hyber: MockHyberClient, callback_receiver: CallbackReceiver
) -> None:
    notifier.send_batch([OLENA, PETRO], "Your order has shipped")
    mock_hyber.advance(10)
    requests = callback_receiver.wait_for(2, timeout=5, requests=True)
    assert [type(request.body) for request in requests] == [dict, dict]
