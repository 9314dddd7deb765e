"""start_time: 'YYYY-MM-DD hh:mm:ss' with an optional offset, Kyiv time without one."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from mock_hyber.service.timeparse import parse_start_time
from mock_hyber.testing.server import LiveServer
from tests.bodies import assert_error, batch_body, broadcast_body, single_body


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


PARSED = [
    ("offset_plus_3", "2020-12-12 10:10:10+03:00", utc(2020, 12, 12, 7, 10, 10)),
    ("offset_minus_5", "2020-12-12 10:10:10-05:00", utc(2020, 12, 12, 15, 10, 10)),
    ("offset_zero", "2020-12-12 10:10:10+00:00", utc(2020, 12, 12, 10, 10, 10)),
    ("offset_half_hour", "2020-12-12 10:10:10+05:30", utc(2020, 12, 12, 4, 40, 10)),
    ("offset_without_colon", "2020-12-12 10:10:10+0300", utc(2020, 12, 12, 7, 10, 10)),
    ("offset_hours_only", "2020-12-12 10:10:10+03", utc(2020, 12, 12, 7, 10, 10)),
    ("z", "2020-12-12 10:10:10Z", utc(2020, 12, 12, 10, 10, 10)),
    ("t_separator", "2020-12-12T10:10:10+03:00", utc(2020, 12, 12, 7, 10, 10)),
    ("t_separator_z", "2020-12-12T10:10:10Z", utc(2020, 12, 12, 10, 10, 10)),
    ("fraction", "2020-12-12 10:10:10.250+03:00", utc(2020, 12, 12, 7, 10, 10) + 0.25),
    ("surrounding_spaces", "  2020-12-12 10:10:10+03:00 ", utc(2020, 12, 12, 7, 10, 10)),
    # No offset: Kyiv time, UTC+2 in winter and UTC+3 in summer.
    ("kyiv_winter", "2020-12-12 10:10:10", utc(2020, 12, 12, 8, 10, 10)),
    ("kyiv_summer", "2020-07-01 10:10:10", utc(2020, 7, 1, 7, 10, 10)),
    ("kyiv_t_separator", "2020-07-01T10:10:10", utc(2020, 7, 1, 7, 10, 10)),
    ("kyiv_before_spring_change", "2021-03-28 02:59:59", utc(2021, 3, 28, 0, 59, 59)),
    ("kyiv_after_spring_change", "2021-03-28 04:00:00", utc(2021, 3, 28, 1, 0, 0)),
    ("kyiv_after_autumn_change", "2021-10-31 04:00:00", utc(2021, 10, 31, 2, 0, 0)),
    ("kyiv_new_year", "2024-01-01 00:00:00", utc(2023, 12, 31, 22, 0, 0)),
]

BAD = [
    "2020-12-12",
    "2020-12-12 10:10",
    "12.12.2020 10:10:10",
    "2020/12/12 10:10:10",
    "20201212 101010",
    "2020-13-12 10:10:10",
    "2020-02-30 10:10:10",
    "2020-12-12 24:10:10",
    "2020-12-12 10:60:10",
    "2020-12-12 10:10:10+24:00",
    "2020-12-12 10:10:10 Europe/Kyiv",
    "2020-12-12_10:10:10",
    "tomorrow",
    "",
]


@pytest.mark.parametrize(("text", "epoch"), [c[1:] for c in PARSED], ids=[c[0] for c in PARSED])
def test_parse_start_time(text: str, epoch: float) -> None:
    assert parse_start_time(text) == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize("text", BAD)
def test_parse_start_time_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_start_time(text)


def test_parse_start_time_refuses_an_iso_week_date() -> None:
    with pytest.raises(ValueError):
        parse_start_time("2020-W50-6 10:10:10")


# -- HTTP ------------------------------------------------------------------------------------------

BODIES = {"batch": batch_body, "broadcast": broadcast_body, "": single_body}


@pytest.mark.parametrize("path", list(BODIES), ids=["batch", "broadcast", "single"])
@pytest.mark.parametrize("value", ["2020-12-12", "12/12/2020 10:10", "2020-12-12 10:10:10 MSK"])
def test_a_bad_start_time_is_a_400_naming_it(
    server: LiveServer, alice: httpx.Client, path: str, value: str
) -> None:
    body = BODIES[path](start_time=value)
    response = alice.post(f"{server.url}/1001/{path}".rstrip("/"), json=body)
    assert "start_time" in assert_error(response, 400, 11002)


def start_ms(server: LiveServer, response: httpx.Response) -> int | None:
    assert response.status_code == 200, response.text
    store = server.backend.accounts["1001"].store
    answer = response.json()
    if "job_id" in answer:
        return store.job(answer["job_id"]).start_ms
    return store.locate(answer["message_id"])[0].start_ms


@pytest.mark.parametrize("path", list(BODIES), ids=["batch", "broadcast", "single"])
def test_a_past_start_time_is_accepted(server: LiveServer, alice: httpx.Client, path: str) -> None:
    body = BODIES[path](start_time="2020-12-12 10:10:10+03:00")  # as in the spec's examples
    response = alice.post(f"{server.url}/1001/{path}".rstrip("/"), json=body)
    assert start_ms(server, response) == int(utc(2020, 12, 12, 7, 10, 10) * 1000)


def test_a_start_time_without_offset_is_kyiv_time(server: LiveServer, alice: httpx.Client) -> None:
    response = alice.post("/batch", json=batch_body(start_time="2030-07-01 09:00:00"))
    assert start_ms(server, response) == int(utc(2030, 7, 1, 6, 0, 0) * 1000)


def test_no_start_time(server: LiveServer, alice: httpx.Client) -> None:
    assert start_ms(server, alice.post("/batch", json=batch_body())) is None


def test_a_future_start_time_is_accepted(server: LiveServer, alice: httpx.Client) -> None:
    response = alice.post("/batch/sync", json=batch_body(start_time="2099-01-01T00:00:00Z"))
    assert response.status_code == 200, response.text
    assert [item["accepted"] for item in response.json()["messages"]] == [True, True]
