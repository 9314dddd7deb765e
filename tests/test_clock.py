"""The virtual clock: unit tests with a fake monotonic source, then the clock control API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mock_hyber.engine.clock import ClockError, VirtualClock
from mock_hyber.testing.server import LiveServer
from tests.bodies import assert_error, sms_options

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the conftest server's frozen start
START_MS = int(START * 1000)
INVALID = 11002
NOT_FOUND = 10404


class FakeMonotonic:
    """A monotonic source the test moves by hand."""

    def __init__(self, at: float = 1000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at

    def tick(self, seconds: float) -> None:
        self.at += seconds


@pytest.fixture
def real() -> FakeMonotonic:
    return FakeMonotonic()


def elapsed(vc: VirtualClock) -> float:
    """Virtual seconds since START (an approx on the epoch itself would hide minutes)."""
    return vc.now() - START


def clock(real: FakeMonotonic, speed: float = 1.0, frozen: bool = False) -> VirtualClock:
    return VirtualClock(START, speed=speed, frozen=frozen, monotonic=real, wall=lambda: 0.0)


# -- VirtualClock -----------------------------------------------------------------------------


def test_starts_at_the_given_time_and_runs_in_real_time(real: FakeMonotonic) -> None:
    vc = clock(real)
    assert vc.now() == START
    assert vc.now_ms() == START_MS
    real.tick(2.5)
    assert elapsed(vc) == pytest.approx(2.5, abs=1e-6)
    assert vc.now_ms() == START_MS + 2500


def test_without_a_start_it_reads_the_wall_clock(real: FakeMonotonic) -> None:
    vc = VirtualClock(monotonic=real, wall=lambda: 42.0)
    assert vc.now() == 42.0


@pytest.mark.parametrize("speed", [0.5, 2.0, 60.0, 3600.0])
def test_speed_scales_real_time(real: FakeMonotonic, speed: float) -> None:
    vc = clock(real, speed=speed)
    real.tick(10)
    assert elapsed(vc) == pytest.approx(10 * speed, abs=1e-6)
    assert vc.speed == speed


@pytest.mark.parametrize("speed", [0, -1, -0.5])
def test_speed_must_be_positive(real: FakeMonotonic, speed: float) -> None:
    with pytest.raises(ClockError):
        clock(real, speed=speed)
    vc = clock(real)
    with pytest.raises(ClockError):
        vc.set_speed(speed)
    assert vc.speed == 1.0


def test_a_frozen_clock_keeps_its_time(real: FakeMonotonic) -> None:
    vc = clock(real, frozen=True)
    assert vc.frozen
    real.tick(1000)
    assert vc.now() == START


def test_freeze_keeps_the_time_reached(real: FakeMonotonic) -> None:
    vc = clock(real, speed=2)
    real.tick(5)
    vc.freeze()
    assert vc.frozen
    real.tick(100)
    assert elapsed(vc) == pytest.approx(10, abs=1e-6)


def test_resume_continues_from_the_frozen_time(real: FakeMonotonic) -> None:
    vc = clock(real, speed=3)
    real.tick(2)  # +6
    vc.freeze()
    real.tick(50)  # nothing while frozen
    vc.resume()
    assert not vc.frozen
    assert elapsed(vc) == pytest.approx(6, abs=1e-6)
    real.tick(1)  # +3 at the kept speed
    assert elapsed(vc) == pytest.approx(9, abs=1e-6)


def test_advance_moves_a_frozen_clock(real: FakeMonotonic) -> None:
    vc = clock(real, frozen=True)
    vc.advance(59)
    vc.advance(0)
    vc.advance(2.5)
    assert elapsed(vc) == pytest.approx(61.5, abs=1e-6)
    assert vc.frozen


def test_advance_adds_to_a_running_clock(real: FakeMonotonic) -> None:
    vc = clock(real, speed=2)
    real.tick(1)  # +2
    vc.advance(100)
    assert elapsed(vc) == pytest.approx(102, abs=1e-6)
    real.tick(1)  # +2
    assert elapsed(vc) == pytest.approx(104, abs=1e-6)


@pytest.mark.parametrize("seconds", [-1, -0.001])
def test_advance_refuses_negative_seconds(real: FakeMonotonic, seconds: float) -> None:
    vc = clock(real, frozen=True)
    with pytest.raises(ClockError):
        vc.advance(seconds)
    assert vc.now() == START


def test_set_time_only_goes_forward(real: FakeMonotonic) -> None:
    vc = clock(real, frozen=True)
    vc.set_time(START + 30)
    assert vc.now() == START + 30
    vc.set_time(START)  # backwards: ignored
    assert vc.now() == START + 30


def test_set_speed_reanchors(real: FakeMonotonic) -> None:
    vc = clock(real, speed=1)
    real.tick(10)  # +10 at speed 1
    vc.set_speed(10)
    assert elapsed(vc) == pytest.approx(10, abs=1e-6)  # the time reached is kept
    real.tick(1)  # +10 at speed 10
    assert elapsed(vc) == pytest.approx(20, abs=1e-6)


def test_set_speed_while_frozen_applies_on_resume(real: FakeMonotonic) -> None:
    vc = clock(real, frozen=True)
    vc.set_speed(4)
    real.tick(10)
    assert vc.now() == START
    vc.resume()
    real.tick(1)
    assert elapsed(vc) == pytest.approx(4, abs=1e-6)


def test_real_seconds_until(real: FakeMonotonic) -> None:
    vc = clock(real, speed=10)
    assert vc.real_seconds_until(START + 100) == pytest.approx(10, abs=1e-6)
    real.tick(5)  # now START + 50
    assert vc.real_seconds_until(START + 100) == pytest.approx(5, abs=1e-6)
    assert vc.real_seconds_until(START) == 0.0  # already past
    vc.set_speed(50)
    assert vc.real_seconds_until(START + 100) == pytest.approx(1, abs=1e-6)


def test_real_seconds_until_is_none_while_frozen(real: FakeMonotonic) -> None:
    vc = clock(real, frozen=True)
    assert vc.real_seconds_until(START + 1) is None
    vc.resume()
    assert vc.real_seconds_until(START + 1) == pytest.approx(1, abs=1e-6)


# -- the clock control API --------------------------------------------------------------------


@pytest.fixture(scope="module")
def control_client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/_mock", timeout=30) as http:
        yield http


@pytest.fixture
def control(control_client: httpx.Client) -> Iterator[httpx.Client]:
    """The control-plane client; every account is reset before and after the test."""
    control_client.post("/reset").raise_for_status()
    yield control_client
    control_client.post("/reset").raise_for_status()


def clocks(response: httpx.Response) -> dict[str, dict[str, object]]:
    assert response.status_code == 200, response.text
    result: dict[str, dict[str, object]] = response.json()["clocks"]
    return result


def test_get_clock_shows_the_frozen_start(control: httpx.Client) -> None:
    every = clocks(control.get("/clock"))
    assert set(every) == {"1001", "1002"}
    for view in every.values():
        assert view["now_ms"] == START_MS
        assert view["now"] == "2026-01-01T00:00:00.000+00:00"
        assert view["frozen"] is True
        assert view["speed"] == 1.0
    assert set(clocks(control.get("/clock", params={"client_id": "1002"}))) == {"1002"}


def test_advance_returns_the_new_time(control: httpx.Client) -> None:
    every = clocks(control.post("/clock/advance", json={"seconds": 61.5}))
    for view in every.values():
        assert view["now_ms"] == START_MS + 61_500
        assert view["now"] == "2026-01-01T00:01:01.500+00:00"
    again = clocks(control.post("/clock/advance", json={"seconds": 0}))
    assert again["1001"]["now_ms"] == START_MS + 61_500
    assert clocks(control.get("/clock"))["1002"]["now_ms"] == START_MS + 61_500


@pytest.mark.parametrize("seconds", [-1, -0.5])
def test_http_advance_refuses_negative_seconds(control: httpx.Client, seconds: float) -> None:
    response = control.post("/clock/advance", json={"seconds": seconds})
    assert_error(response, 400, INVALID)
    assert "seconds" in response.json()["error_text"]
    assert clocks(control.get("/clock"))["1001"]["now_ms"] == START_MS


def test_advance_needs_seconds(control: httpx.Client) -> None:
    response = control.post("/clock/advance", json={})
    assert response.status_code == 400
    assert set(response.json()) == {"error_code", "error_text"}


def test_advance_refuses_a_non_number(control: httpx.Client) -> None:
    assert_error(control.post("/clock/advance", json={"seconds": "soon"}), 400, INVALID)


@pytest.mark.parametrize(
    ("params", "body"),
    [({"client_id": "9999"}, {"seconds": 5}), ({}, {"seconds": 5, "client_id": "9999"})],
)
def test_advance_of_an_unknown_account_is_404(
    control: httpx.Client, params: dict[str, str], body: dict[str, object]
) -> None:
    assert_error(control.post("/clock/advance", params=params, json=body), 404, NOT_FOUND)
    assert clocks(control.get("/clock"))["1001"]["now_ms"] == START_MS


def test_unknown_account_on_get_clock_is_404(control: httpx.Client) -> None:
    assert_error(control.get("/clock", params={"client_id": "9999"}), 404, NOT_FOUND)


@pytest.mark.parametrize("where", ["query", "body"])
def test_per_account_advance_moves_only_that_clock(control: httpx.Client, where: str) -> None:
    if where == "query":
        response = control.post(
            "/clock/advance", params={"client_id": "1002"}, json={"seconds": 30}
        )
    else:
        response = control.post("/clock/advance", json={"seconds": 30, "client_id": "1002"})
    assert set(clocks(response)) == {"1002"}
    every = clocks(control.get("/clock"))
    assert every["1002"]["now_ms"] == START_MS + 30_000
    assert every["1001"]["now_ms"] == START_MS


def test_per_account_advance_runs_only_that_accounts_events(
    control: httpx.Client, server: LiveServer
) -> None:
    body = {
        "phone_number": 380000000001,
        "channels": ["sms"],
        "channel_options": {"sms": sms_options(text="Hi")},
    }
    ids = {}
    for client_id, auth in (("1001", ("alice", "secret")), ("1002", ("bob", "pw"))):
        response = httpx.post(f"{server.url}/{client_id}", json=body, auth=auth)
        assert response.status_code == 200, response.text
        ids[client_id] = response.json()["message_id"]
    control.post("/clock/advance", params={"client_id": "1002"}, json={"seconds": 2})
    assert control.get(f"/messages/{ids['1002']}").json()["state"] == "delivered"
    assert control.get(f"/messages/{ids['1001']}").json()["state"] in ("pending", "active")


def test_set_speed(control: httpx.Client) -> None:
    every = clocks(control.post("/clock", json={"speed": 60}))
    assert all(view["speed"] == 60.0 for view in every.values())
    assert all(view["frozen"] is True for view in every.values())  # still frozen
    one = clocks(control.post("/clock", params={"client_id": "1001"}, json={"speed": 2.5}))
    assert one["1001"]["speed"] == 2.5
    assert clocks(control.get("/clock"))["1002"]["speed"] == 60.0


@pytest.mark.parametrize("speed", [0, -2])
def test_speed_zero_or_below_is_refused(control: httpx.Client, speed: float) -> None:
    response = control.post("/clock", json={"speed": speed})
    assert_error(response, 400, INVALID)
    assert "speed" in response.json()["error_text"]
    assert clocks(control.get("/clock"))["1001"]["speed"] == 1.0


def test_unfreeze_and_freeze_through_post_clock(control: httpx.Client) -> None:
    running = clocks(control.post("/clock", json={"frozen": False, "speed": 1000}))
    assert running["1001"]["frozen"] is False
    frozen = clocks(control.post("/clock", json={"frozen": True}))
    assert frozen["1001"]["frozen"] is True
    kept = frozen["1001"]["now_ms"]
    assert isinstance(kept, int) and kept >= START_MS
    assert clocks(control.get("/clock"))["1001"]["now_ms"] == kept


def test_resume_then_freeze_endpoints(control: httpx.Client) -> None:
    resumed = clocks(control.post("/clock/resume", params={"client_id": "1001"}))
    assert resumed["1001"]["frozen"] is False
    assert clocks(control.get("/clock"))["1002"]["frozen"] is True  # untouched
    frozen = clocks(control.post("/clock/freeze", params={"client_id": "1001"}))
    assert frozen["1001"]["frozen"] is True
    kept = frozen["1001"]["now_ms"]
    assert clocks(control.get("/clock"))["1001"]["now_ms"] == kept


def test_reset_restores_the_start_clock(control: httpx.Client) -> None:
    control.post("/clock/advance", json={"seconds": 3600})
    control.post("/clock", json={"speed": 7})
    control.post("/reset").raise_for_status()
    for view in clocks(control.get("/clock")).values():
        assert view["now_ms"] == START_MS
        assert view["speed"] == 1.0
        assert view["frozen"] is True


def test_malformed_body_is_a_hyber_error(control: httpx.Client) -> None:
    response = control.post(
        "/clock/advance", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"error_code", "error_text"}


# -- bounded inputs: a refused control call changes nothing ------------------------------------


@pytest.mark.parametrize("speed", [1e308, 1_000_001, 1e12])
def test_an_out_of_range_speed_is_refused_and_changes_nothing(
    control: httpx.Client, speed: float
) -> None:
    before = clocks(control.get("/clock"))
    answer = control.post("/clock", json={"speed": speed, "client_id": "1002"})
    assert "speed" in assert_error(answer, 400, 11002)
    assert clocks(control.get("/clock")) == before


@pytest.mark.parametrize("seconds", [1e15, 3.2e9])
def test_an_advance_past_the_range_is_refused_and_changes_nothing(
    control: httpx.Client, seconds: float
) -> None:
    answer = control.post("/clock/advance", json={"seconds": seconds, "client_id": "1001"})
    assert "seconds" in assert_error(answer, 400, 11002)
    assert clocks(control.get("/clock"))["1001"]["now_ms"] == START_MS
    assert control.get("/jobs", params={"client_id": "1001"}).status_code == 200


def test_an_advance_that_would_pass_the_year_9000_moves_no_account(control: httpx.Client) -> None:
    ninety_years = 90 * 365 * 86400
    for _ in range(77):  # 2026 + 77 × 90 years = 8956
        control.post("/clock/advance", json={"seconds": ninety_years, "client_id": "1002"})
    near_end = clocks(control.get("/clock"))
    answer = control.post("/clock/advance", json={"seconds": ninety_years})  # both accounts
    assert "9000" in assert_error(answer, 400, 11002)
    assert clocks(control.get("/clock")) == near_end  # 1001 could, but did not, move either


def test_the_largest_speed_still_runs_the_simulation(control: httpx.Client) -> None:
    answer = control.post("/clock", json={"speed": 1_000_000, "frozen": False})
    assert answer.status_code == 200, answer.text
    assert clocks(control.get("/clock"))["1001"]["speed"] == 1_000_000
    control.post("/clock/freeze").raise_for_status()


def test_the_clock_refuses_what_it_cannot_represent(real: FakeMonotonic) -> None:
    vc = clock(real)
    with pytest.raises(ClockError):
        vc.set_speed(1e308)
    with pytest.raises(ClockError):
        vc.advance(1e15)
    assert vc.speed == 1.0 and vc.now_ms() == START_MS
