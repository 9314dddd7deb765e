"""A typed client of mock_hyber's control API (`/_mock`) and of its provider endpoints.

    with MockHyberClient("http://127.0.0.1:8080") as hyber:
        hyber.reset()
        job_id = hyber.send_batch({...})
        hyber.advance(62)
        hyber.assert_delivered(380000000002, via="sms")

Every call that touches an account (reset, clock, scenarios, inspection, faults, callbacks)
applies to this client's `client_id` only, so tests sharing one server through different
accounts do not see each other. A refused call raises `MockHyberError`; a bounded wait that runs
out raises `MockHyberTimeout` (a `TimeoutError`) or returns None, as each method says.

`AsyncMockHyberClient` has the same methods, awaitable. Both are thin transports over one set
of operations: each operation is a generator that yields the HTTP calls it needs and receives
their JSON (an error ends it), so the logic (parameters, parsing, waits and failure messages)
exists once.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload
from urllib.parse import quote

import httpx

from mock_hyber.testing.models import (
    Acceptance,
    AccountSettings,
    ApiFault,
    CallbackDelivery,
    CallbackFaults,
    Clock,
    Faults,
    Health,
    JobInfo,
    MagicNumber,
    MessageInfo,
    MockHyberError,
    MockHyberTimeout,
    Scenarios,
)

__all__ = ["AsyncMockHyberClient", "MockHyberClient", "MockHyberError", "MockHyberTimeout"]

T = TypeVar("T")
Status = Literal["pending", "active", "delivered", "failed", "rejected", "final"]
Channel = Literal["push", "viber", "sms", "whatsapp"]
Forced = Literal["delivered", "failed", "expired", "seen", "clicked"]
Phone = int | str

LONG_POLL_MAX = 300.0  # the server's cap on one `wait=`; longer waits are chained
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class _Call:
    """One HTTP request an operation needs; `extra_time` lengthens the read timeout (long-polls,
    clock advances that wait for callbacks)."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] | None = None
    provider: bool = False  # a provider endpoint: Basic auth of the account
    extra_time: float = 0.0


Op = Generator[_Call, Any, T]


def _phone(phone: Phone) -> str:
    return str(phone).strip().lstrip("+")


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _json_of(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json() if response.content else None
    code: int | None = None
    text = response.text
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_code" in body:
        code = body.get("error_code")
        text = str(body.get("error_text", ""))
    raise MockHyberError(response.status_code, code, text)


def _fault_body(fault: ApiFault | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(fault, ApiFault):
        return fault.model_dump(exclude_none=True, exclude={"remaining"})
    return dict(fault)


def _offset(ms: int, origin: int) -> str:
    return f"+{(ms - origin) / 1000:g}s"


def describe_messages(phone: str, messages: list[MessageInfo], clock: Clock | None) -> str:
    """What happened to the messages of one phone: for failure messages."""
    if not messages:
        lines = [f"no message to {phone} was sent (in account {clock.client_id if clock else '?'})"]
    else:
        lines = [f"messages to {phone}:"]
    for message in messages:
        route = " -> ".join(message.channels)
        where = f", delivered via {message.delivered_via}" if message.delivered_via else ""
        lines.append(
            f"  {message.message_id} ({message.job_kind} job {message.job_id}, channels {route}"
            f"{f', extra_id {message.extra_id}' if message.extra_id else ''})"
            f": state {message.state}{where}"
        )
        report = message.report
        codes = "/".join(
            str(report[key]) for key in ("status", "substatus", "hyber_status") if key in report
        )
        lines.append(f"    report: status {codes}, last_partner {report.get('last_partner')}")
        if message.plan is not None and message.plan.moments:
            origin = message.plan.moments[0].at_ms
            steps = "; ".join(
                f"{_offset(m.at_ms, origin)} {m.event} {m.channel}"
                f"{'' if m.happened else ' (not yet)'}"
                for m in message.plan.moments
            )
            lines.append(f"    plan ({message.plan.source}): {steps}")
    if clock is not None:
        state = "frozen" if clock.frozen else f"running x{clock.speed:g}"
        line = f"clock: {clock.now} ({state}), {clock.pending_events} events pending"
        if clock.frozen and clock.pending_events:
            line += ": advance the clock to let them happen"
        lines.append(line)
    return "\n".join(lines)


class _Operations:
    """The operations shared by both clients: each yields `_Call`s and receives their JSON."""

    def __init__(
        self,
        base_url: str,
        client_id: str | int = "1001",
        login: str = "hyber",
        password: str = "hyber",
        timeout: float = DEFAULT_TIMEOUT,
        admin_token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = str(client_id)
        self.login = login
        self.password = password
        self.timeout = timeout
        self.admin_token = admin_token
        self._auth = httpx.BasicAuth(login, password)

    def _request_args(self, call: _Call) -> dict[str, Any]:
        path = f"/{self.client_id}{call.path}" if call.provider else call.path
        args: dict[str, Any] = {
            "method": call.method,
            "url": path,
            "params": call.params,
            "headers": call.headers,
            "timeout": self.timeout + call.extra_time,
        }
        if call.json is not None:
            args["json"] = call.json
        if call.content is not None:
            args["content"] = call.content
        if call.provider:
            args["auth"] = self._auth
        elif self.admin_token:
            args["headers"] = {**(call.headers or {}), "X-Mock-Hyber-Token": self.admin_token}
        return args

    def _mine(self, **params: Any) -> dict[str, Any]:
        return _clean({"client_id": self.client_id, **params})

    # -- health, reset, reference data ---------------------------------------------------

    def _op_health(self) -> Op[Health]:
        return Health.model_validate((yield _Call("GET", "/_mock/health")))

    def _op_reset(self, all_accounts: bool) -> Op[list[str]]:
        params = None if all_accounts else self._mine()
        data = yield _Call("POST", "/_mock/reset", params=params)
        return list(data["reset"])

    def _op_magic_numbers(self) -> Op[list[MagicNumber]]:
        data = yield _Call("GET", "/_mock/magic")
        return [MagicNumber.model_validate(item) for item in data["magic_numbers"]]

    def _op_codes(self) -> Op[dict[str, Any]]:
        return dict((yield _Call("GET", "/_mock/codes")))

    # -- clock -----------------------------------------------------------------------------

    def _my_clock(self, data: Any) -> Clock:
        return Clock.model_validate({"client_id": self.client_id, **data["clocks"][self.client_id]})

    def _op_clock(self) -> Op[Clock]:
        return self._my_clock((yield _Call("GET", "/_mock/clock", params=self._mine())))

    def _op_clock_change(self, path: str, body: dict[str, Any], wait: float = 0.0) -> Op[Clock]:
        data = yield _Call("POST", path, params=self._mine(), json=body, extra_time=wait)
        return self._my_clock(data)

    def _op_advance(self, seconds: float, wait_callbacks: bool, timeout: float) -> Op[Clock]:
        body = {"seconds": seconds, "wait_callbacks": wait_callbacks, "timeout": timeout}
        return (yield from self._op_clock_change("/_mock/clock/advance", body, timeout))

    # -- scenarios -------------------------------------------------------------------------

    def _op_scenarios(self) -> Op[Scenarios]:
        data = yield _Call("GET", "/_mock/scenarios", params=self._mine())
        return Scenarios.model_validate(data["scenarios"][self.client_id])

    def _op_set_scenarios(self, scenarios: str | bytes | Mapping[str, Any]) -> Op[Scenarios]:
        if isinstance(scenarios, Mapping):
            call = _Call("PUT", "/_mock/scenarios", params=self._mine(), json=dict(scenarios))
        else:
            raw = scenarios.encode() if isinstance(scenarios, str) else scenarios
            headers = {"Content-Type": "application/yaml"}
            call = _Call(
                "PUT", "/_mock/scenarios", params=self._mine(), content=raw, headers=headers
            )
        data = yield call
        return Scenarios.model_validate(data["scenarios"][self.client_id])

    # -- inspection ------------------------------------------------------------------------

    def _op_jobs(self, tag: str | None, kind: str | None, limit: int) -> Op[list[JobInfo]]:
        params = self._mine(tag=tag, kind=kind, limit=limit)
        data = yield _Call("GET", "/_mock/jobs", params=params)
        return [JobInfo.from_wire(item) for item in data["jobs"]]

    def _op_job(self, job_id: str) -> Op[JobInfo]:
        return JobInfo.from_wire((yield _Call("GET", f"/_mock/jobs/{job_id}")))

    def _op_messages(
        self, filters: Mapping[str, Any], limit: int, full: bool, wait: float, min_count: int
    ) -> Op[tuple[bool, list[MessageInfo]]]:
        """One (long-poll) listing: (matched, messages)."""
        deadline = time.monotonic() + wait
        while True:
            chunk = min(max(deadline - time.monotonic(), 0.0), LONG_POLL_MAX)
            params = self._mine(
                **filters, limit=limit, full=str(full).lower(), wait=chunk, min_count=min_count
            )
            data = yield _Call("GET", "/_mock/messages", params=params, extra_time=chunk)
            matched = bool(data["matched"])
            if matched or time.monotonic() >= deadline:
                return matched, [MessageInfo.model_validate(m) for m in data["messages"]]

    def _op_message(self, message_id: str) -> Op[MessageInfo]:
        return MessageInfo.model_validate((yield _Call("GET", f"/_mock/messages/{message_id}")))

    def _op_wait_for_message(
        self, filters: Mapping[str, Any], timeout: float
    ) -> Op[MessageInfo | None]:
        matched, found = yield from self._op_messages(filters, 1, True, timeout, 1)
        return found[0] if matched and found else None

    def _op_describe(self, phone: str) -> Op[str]:
        _, messages = yield from self._op_messages({"phone": phone}, 20, True, 0.0, 1)
        clock = yield from self._op_clock()
        return describe_messages(phone, messages, clock)

    def _op_wait_for_status(
        self, phone: Phone, status: Status, timeout: float, via: Channel | None
    ) -> Op[MessageInfo]:
        number = _phone(phone)
        filters = _clean({"phone": number, "status": status, "via": via})
        found = yield from self._op_wait_for_message(filters, timeout)
        if found is None:
            story = yield from self._op_describe(number)
            how = f" via {via}" if via else ""
            raise MockHyberTimeout(
                f"no message to {number} reached {status}{how} within {timeout:g} s\n{story}"
            )
        return found

    def _op_assert_delivered(
        self, phone: Phone, via: Channel | None, timeout: float
    ) -> Op[MessageInfo]:
        number = _phone(phone)
        filters = _clean({"phone": number, "status": "delivered", "via": via})
        found = yield from self._op_wait_for_message(filters, timeout)
        if found is None:
            story = yield from self._op_describe(number)
            how = f" via {via}" if via else ""
            raise AssertionError(f"no message to {number} was delivered{how}\n{story}")
        return found

    def _op_transition(
        self,
        message_id: str,
        status: Forced,
        channel: Channel | None,
        code: int | None,
        clicks: int | None,
    ) -> Op[MessageInfo]:
        body = _clean({"status": status, "channel": channel, "code": code, "clicks": clicks})
        data = yield _Call("POST", f"/_mock/messages/{message_id}/transition", json=body)
        return MessageInfo.model_validate(data)

    # -- callbacks, faults, inbound --------------------------------------------------------

    def _op_callbacks(self, filters: Mapping[str, Any]) -> Op[list[CallbackDelivery]]:
        params = self._mine(**filters)
        if "body" in params:
            params["body"] = str(params["body"]).lower()
        data = yield _Call("GET", "/_mock/callbacks", params=params)
        return [CallbackDelivery.model_validate(item) for item in data["callbacks"]]

    def _op_redeliver(self, delivery_id: int) -> Op[CallbackDelivery]:
        data = yield _Call("POST", f"/_mock/callbacks/{delivery_id}/redeliver")
        return CallbackDelivery.model_validate(data)

    def _my_faults(self, data: Any) -> Faults:
        return Faults.model_validate(data["faults"][self.client_id])

    def _op_faults(self) -> Op[Faults]:
        return self._my_faults((yield _Call("GET", "/_mock/faults", params=self._mine())))

    def _op_set_faults(
        self,
        api: list[ApiFault | Mapping[str, Any]] | None,
        callbacks: CallbackFaults | Mapping[str, Any] | None,
    ) -> Op[Faults]:
        body: dict[str, Any] = {"api": [_fault_body(fault) for fault in api or ()]}
        if isinstance(callbacks, CallbackFaults):
            body["callbacks"] = callbacks.model_dump()
        elif callbacks is not None:
            body["callbacks"] = dict(callbacks)
        data = yield _Call("PUT", "/_mock/faults", params=self._mine(), json=body)
        return self._my_faults(data)

    def _my_settings(self, data: Any) -> AccountSettings:
        return AccountSettings.model_validate(data["settings"][self.client_id])

    def _op_settings(self) -> Op[AccountSettings]:
        return self._my_settings((yield _Call("GET", "/_mock/settings", params=self._mine())))

    def _op_update_settings(self, changes: Mapping[str, Any]) -> Op[AccountSettings]:
        data = yield _Call("PATCH", "/_mock/settings", params=self._mine(), json=dict(changes))
        return self._my_settings(data)

    def _op_inbound(self, fields: Mapping[str, Any]) -> Op[CallbackDelivery]:
        body = _clean({"client_id": self.client_id, **fields})
        return CallbackDelivery.model_validate((yield _Call("POST", "/_mock/inbound", json=body)))

    # -- provider endpoints (as the app under test calls them) -----------------------------

    def _op_send_single(self, body: Mapping[str, Any]) -> Op[str]:
        data = yield _Call("POST", "", json=dict(body), provider=True)
        return str(data["message_id"])

    def _op_send_many(
        self, kind: str, body: Mapping[str, Any], sync: bool
    ) -> Op[str | list[Acceptance]]:
        path = f"/{kind}/sync" if sync else f"/{kind}"
        data = yield _Call("POST", path, json=dict(body), provider=True)
        if sync:
            return [Acceptance.model_validate(item) for item in data["messages"]]
        return str(data["job_id"])

    def _op_status(self, job_id: str) -> Op[dict[str, Any]]:
        return dict((yield _Call("GET", f"/status/{job_id}", provider=True)))

    def _op_dr(self, key: str, advanced: bool, external: bool) -> Op[dict[str, Any]]:
        kind = "advanced" if advanced else "simple"
        where = f"external/{quote(key, safe='')}" if external else quote(key, safe="")
        return dict((yield _Call("GET", f"/api/dr/{where}/{kind}", provider=True)))


class MockHyberClient(_Operations):
    """A synchronous client of one mock_hyber server and one of its accounts.

    `base_url` is the server (`http://127.0.0.1:8080`); `client_id`, `login` and `password` name
    the account (the server's default account by default); `timeout` is the per-request timeout
    in seconds (waits add their own time on top); `admin_token` is sent with every control call
    (`X-Mock-Hyber-Token`) to a server started with one.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str | int = "1001",
        login: str = "hyber",
        password: str = "hyber",
        timeout: float = DEFAULT_TIMEOUT,
        admin_token: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, client_id, login, password, timeout, admin_token)
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def _run(self, op: Op[T]) -> T:
        try:
            call = next(op)
            while True:
                try:
                    result = _json_of(self.http.request(**self._request_args(call)))
                except BaseException:
                    op.close()
                    raise
                call = op.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> MockHyberClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- health, reset, reference data ---------------------------------------------------

    def health(self) -> Health:
        """Liveness: version, seed, accounts and stored messages."""
        return self._run(self._op_health())

    def reset(self, all_accounts: bool = False) -> list[str]:
        """Wipe this account (or every account): messages, jobs, callbacks; restore the start-up
        clock, scenarios, faults and random source. Returns the client_ids reset."""
        return self._run(self._op_reset(all_accounts))

    def magic_numbers(self) -> list[MagicNumber]:
        """The magic phone numbers and what each one does."""
        return self._run(self._op_magic_numbers())

    def codes(self) -> dict[str, Any]:
        """The status/error code catalogue in use."""
        return self._run(self._op_codes())

    # -- clock -----------------------------------------------------------------------------

    def clock(self) -> Clock:
        """This account's virtual clock."""
        return self._run(self._op_clock())

    def advance(self, seconds: float, wait_callbacks: bool = True, timeout: float = 10.0) -> Clock:
        """Move virtual time forward and run every event due by then; with `wait_callbacks`,
        return once the callbacks that fell due were tried (at most `timeout` seconds)."""
        return self._run(self._op_advance(seconds, wait_callbacks, timeout))

    def freeze(self) -> Clock:
        """Stop virtual time: nothing happens until `advance`."""
        return self._run(self._op_clock_change("/_mock/clock/freeze", {}))

    def resume(self) -> Clock:
        """Let virtual time run again at its speed."""
        return self._run(self._op_clock_change("/_mock/clock/resume", {}))

    def set_speed(self, speed: float) -> Clock:
        """Virtual seconds per real second (the clock keeps its frozen/running state)."""
        return self._run(self._op_clock_change("/_mock/clock", {"speed": speed}))

    # -- scenarios -------------------------------------------------------------------------

    def scenarios(self) -> Scenarios:
        """The rules and random profile in force."""
        return self._run(self._op_scenarios())

    def set_scenarios(self, scenarios: str | bytes | Mapping[str, Any]) -> Scenarios:
        """Replace the rules (YAML text or a dict) for messages accepted from now on."""
        return self._run(self._op_set_scenarios(scenarios))

    # -- inspection ------------------------------------------------------------------------

    def jobs(
        self, tag: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobInfo]:
        """Jobs, oldest first (the newest `limit`), with message counts by state."""
        return self._run(self._op_jobs(tag, kind, limit))

    def job(self, job_id: str) -> JobInfo:
        """One job with its messages."""
        return self._run(self._op_job(job_id))

    def messages(
        self,
        phone: Phone | None = None,
        channel: Channel | None = None,
        via: Channel | None = None,
        status: Status | None = None,
        job_id: str | None = None,
        extra_id: str | None = None,
        tag: str | None = None,
        limit: int = 100,
        full: bool = False,
    ) -> list[MessageInfo]:
        """Messages matching every filter given (`via`: the channel that delivered it)."""
        filters = _clean(
            {
                "phone": None if phone is None else _phone(phone),
                "channel": channel,
                "via": via,
                "status": status,
                "job_id": job_id,
                "extra_id": extra_id,
                "tag": tag,
            }
        )
        return self._run(self._op_messages(filters, limit, full, 0.0, 1))[1]

    def message(self, message_id: str) -> MessageInfo:
        """One message: state, texts, simple and advanced report, and its planned life."""
        return self._run(self._op_message(message_id))

    def wait_for_message(
        self,
        phone: Phone | None = None,
        status: Status | None = None,
        timeout: float = 5.0,
        *,
        via: Channel | None = None,
        channel: Channel | None = None,
        job_id: str | None = None,
        extra_id: str | None = None,
        tag: str | None = None,
    ) -> MessageInfo | None:
        """The first message matching the filters, as soon as there is one (a server long-poll:
        no client-side polling); None when none matched within `timeout` seconds."""
        filters = _clean(
            {
                "phone": None if phone is None else _phone(phone),
                "status": status,
                "via": via,
                "channel": channel,
                "job_id": job_id,
                "extra_id": extra_id,
                "tag": tag,
            }
        )
        return self._run(self._op_wait_for_message(filters, timeout))

    def wait_for_messages(
        self,
        count: int,
        timeout: float = 5.0,
        *,
        phone: Phone | None = None,
        status: Status | None = None,
        via: Channel | None = None,
        channel: Channel | None = None,
        job_id: str | None = None,
        extra_id: str | None = None,
        tag: str | None = None,
        limit: int = 1000,
    ) -> list[MessageInfo]:
        """Wait until at least `count` messages match (e.g. every message of a job is final);
        return the matches, fewer than `count` when `timeout` ran out."""
        filters = _clean(
            {
                "phone": None if phone is None else _phone(phone),
                "status": status,
                "via": via,
                "channel": channel,
                "job_id": job_id,
                "extra_id": extra_id,
                "tag": tag,
            }
        )
        return self._run(self._op_messages(filters, limit, False, timeout, count))[1]

    def wait_for_status(
        self, phone: Phone, status: Status, timeout: float = 5.0, via: Channel | None = None
    ) -> MessageInfo:
        """Wait until a message to `phone` is in `status`; raise `MockHyberTimeout` (saying what
        happened instead) when none is within `timeout` seconds."""
        return self._run(self._op_wait_for_status(phone, status, timeout, via))

    def assert_delivered(
        self, phone: Phone, via: Channel | None = None, timeout: float = 0.0
    ) -> MessageInfo:
        """Assert that a message to `phone` was delivered via `via` (None: any channel), waiting
        up to `timeout` seconds; the AssertionError shows what happened instead."""
        return self._run(self._op_assert_delivered(phone, via, timeout))

    def transition(
        self,
        message_id: str,
        status: Forced,
        channel: Channel | None = None,
        code: int | None = None,
        clicks: int | None = None,
    ) -> MessageInfo:
        """Force a status now: delivered, failed or expired (final; 409 when already final), or
        seen / clicked (of a delivered message)."""
        return self._run(self._op_transition(message_id, status, channel, code, clicks))

    # -- callbacks, faults, inbound --------------------------------------------------------

    def callbacks(
        self,
        message_id: str | None = None,
        job_id: str | None = None,
        url: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 1000,
        body: bool = True,
    ) -> list[CallbackDelivery]:
        """Callback deliveries and their attempts, oldest first."""
        filters = _clean(
            {
                "message_id": message_id,
                "job_id": job_id,
                "url": url,
                "status": status,
                "kind": kind,
                "limit": limit,
                "body": body,
            }
        )
        return self._run(self._op_callbacks(filters))

    def redeliver(self, delivery_id: int) -> CallbackDelivery:
        """Start a new round of attempts of a callback, now."""
        return self._run(self._op_redeliver(delivery_id))

    def faults(self) -> Faults:
        return self._run(self._op_faults())

    def set_faults(
        self,
        api: list[ApiFault | Mapping[str, Any]] | None = None,
        callbacks: CallbackFaults | Mapping[str, Any] | None = None,
    ) -> Faults:
        """Replace this account's faults (what is not given is turned off)."""
        return self._run(self._op_set_faults(api, callbacks))

    def clear_faults(self) -> Faults:
        return self._run(self._op_set_faults(None, None))

    def settings(self) -> AccountSettings:
        """This account's callback settings in force."""
        return self._run(self._op_settings())

    def update_settings(self, **changes: Any) -> AccountSettings:
        """Change this account's callback settings (`callback_mode="batched"`, `inbound_url=`,
        `callback_max_attempts=`, ...; None: back to the server-wide value) for what happens
        from now on, until the next reset. Returns the settings in force."""
        return self._run(self._op_update_settings(changes))

    def inbound(
        self,
        text: str | None = None,
        *,
        message_id: str | None = None,
        phone: Phone | None = None,
        channel: Literal["viber", "whatsapp"] | None = None,
        **media: str,
    ) -> CallbackDelivery:
        """Simulate a user reply, POSTed to the account's `inbound_url` (media fields: Viber
        `media`, `file_name`; WhatsApp `image_url`, `video_url`, `audio_url`, `doc_url`,
        `location`)."""
        fields = {
            "text": text,
            "message_id": message_id,
            "phone": None if phone is None else _phone(phone),
            "channel": channel,
            **media,
        }
        return self._run(self._op_inbound(fields))

    # -- provider endpoints ----------------------------------------------------------------

    def send_single(self, body: Mapping[str, Any]) -> str:
        """`POST /{client_id}`: the message_id."""
        return self._run(self._op_send_single(body))

    @overload
    def send_batch(self, body: Mapping[str, Any], sync: Literal[False] = ...) -> str: ...
    @overload
    def send_batch(self, body: Mapping[str, Any], sync: Literal[True]) -> list[Acceptance]: ...
    def send_batch(self, body: Mapping[str, Any], sync: bool = False) -> str | list[Acceptance]:
        """`POST /{client_id}/batch`: the job_id; with `sync`, the per-recipient answer."""
        return self._run(self._op_send_many("batch", body, sync))

    @overload
    def send_broadcast(self, body: Mapping[str, Any], sync: Literal[False] = ...) -> str: ...
    @overload
    def send_broadcast(self, body: Mapping[str, Any], sync: Literal[True]) -> list[Acceptance]: ...
    def send_broadcast(self, body: Mapping[str, Any], sync: bool = False) -> str | list[Acceptance]:
        """`POST /{client_id}/broadcast`: the job_id; with `sync`, the per-recipient answer."""
        return self._run(self._op_send_many("broadcast", body, sync))

    def status(self, job_id: str) -> dict[str, Any]:
        """`GET /{client_id}/status/{job_id}`, as the provider answers it."""
        return self._run(self._op_status(job_id))

    def dr(self, message_id: str, advanced: bool = False) -> dict[str, Any]:
        """The simple (or advanced) delivery report of a message, as the provider answers it."""
        return self._run(self._op_dr(message_id, advanced, external=False))

    def dr_external(self, extra_id: str, advanced: bool = False) -> dict[str, Any]:
        """The delivery report of the latest message with this `extra_id`."""
        return self._run(self._op_dr(extra_id, advanced, external=True))


class AsyncMockHyberClient(_Operations):
    """`MockHyberClient` for asyncio: the same methods (see there), awaitable.

    `async with AsyncMockHyberClient(url) as hyber: await hyber.advance(60)`.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str | int = "1001",
        login: str = "hyber",
        password: str = "hyber",
        timeout: float = DEFAULT_TIMEOUT,
        admin_token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, client_id, login, password, timeout, admin_token)
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def _run(self, op: Op[T]) -> T:
        try:
            call = next(op)
            while True:
                try:
                    result = _json_of(await self.http.request(**self._request_args(call)))
                except BaseException:
                    op.close()
                    raise
                call = op.send(result)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncMockHyberClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def health(self) -> Health:
        return await self._run(self._op_health())

    async def reset(self, all_accounts: bool = False) -> list[str]:
        return await self._run(self._op_reset(all_accounts))

    async def magic_numbers(self) -> list[MagicNumber]:
        return await self._run(self._op_magic_numbers())

    async def codes(self) -> dict[str, Any]:
        return await self._run(self._op_codes())

    async def clock(self) -> Clock:
        return await self._run(self._op_clock())

    async def advance(
        self, seconds: float, wait_callbacks: bool = True, timeout: float = 10.0
    ) -> Clock:
        return await self._run(self._op_advance(seconds, wait_callbacks, timeout))

    async def freeze(self) -> Clock:
        return await self._run(self._op_clock_change("/_mock/clock/freeze", {}))

    async def resume(self) -> Clock:
        return await self._run(self._op_clock_change("/_mock/clock/resume", {}))

    async def set_speed(self, speed: float) -> Clock:
        return await self._run(self._op_clock_change("/_mock/clock", {"speed": speed}))

    async def scenarios(self) -> Scenarios:
        return await self._run(self._op_scenarios())

    async def set_scenarios(self, scenarios: str | bytes | Mapping[str, Any]) -> Scenarios:
        return await self._run(self._op_set_scenarios(scenarios))

    async def jobs(
        self, tag: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[JobInfo]:
        return await self._run(self._op_jobs(tag, kind, limit))

    async def job(self, job_id: str) -> JobInfo:
        return await self._run(self._op_job(job_id))

    async def messages(
        self,
        phone: Phone | None = None,
        channel: Channel | None = None,
        via: Channel | None = None,
        status: Status | None = None,
        job_id: str | None = None,
        extra_id: str | None = None,
        tag: str | None = None,
        limit: int = 100,
        full: bool = False,
    ) -> list[MessageInfo]:
        filters = _clean(
            {
                "phone": None if phone is None else _phone(phone),
                "channel": channel,
                "via": via,
                "status": status,
                "job_id": job_id,
                "extra_id": extra_id,
                "tag": tag,
            }
        )
        return (await self._run(self._op_messages(filters, limit, full, 0.0, 1)))[1]

    async def message(self, message_id: str) -> MessageInfo:
        return await self._run(self._op_message(message_id))

    async def wait_for_message(
        self,
        phone: Phone | None = None,
        status: Status | None = None,
        timeout: float = 5.0,
        *,
        via: Channel | None = None,
        channel: Channel | None = None,
        job_id: str | None = None,
        extra_id: str | None = None,
        tag: str | None = None,
    ) -> MessageInfo | None:
        filters = _clean(
            {
                "phone": None if phone is None else _phone(phone),
                "status": status,
                "via": via,
                "channel": channel,
                "job_id": job_id,
                "extra_id": extra_id,
                "tag": tag,
            }
        )
        return await self._run(self._op_wait_for_message(filters, timeout))

    async def wait_for_messages(
        self,
        count: int,
        timeout: float = 5.0,
        *,
        phone: Phone | None = None,
        status: Status | None = None,
        via: Channel | None = None,
        channel: Channel | None = None,
        job_id: str | None = None,
        extra_id: str | None = None,
        tag: str | None = None,
        limit: int = 1000,
    ) -> list[MessageInfo]:
        filters = _clean(
            {
                "phone": None if phone is None else _phone(phone),
                "status": status,
                "via": via,
                "channel": channel,
                "job_id": job_id,
                "extra_id": extra_id,
                "tag": tag,
            }
        )
        return (await self._run(self._op_messages(filters, limit, False, timeout, count)))[1]

    async def wait_for_status(
        self, phone: Phone, status: Status, timeout: float = 5.0, via: Channel | None = None
    ) -> MessageInfo:
        return await self._run(self._op_wait_for_status(phone, status, timeout, via))

    async def assert_delivered(
        self, phone: Phone, via: Channel | None = None, timeout: float = 0.0
    ) -> MessageInfo:
        return await self._run(self._op_assert_delivered(phone, via, timeout))

    async def transition(
        self,
        message_id: str,
        status: Forced,
        channel: Channel | None = None,
        code: int | None = None,
        clicks: int | None = None,
    ) -> MessageInfo:
        return await self._run(self._op_transition(message_id, status, channel, code, clicks))

    async def callbacks(
        self,
        message_id: str | None = None,
        job_id: str | None = None,
        url: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 1000,
        body: bool = True,
    ) -> list[CallbackDelivery]:
        filters = _clean(
            {
                "message_id": message_id,
                "job_id": job_id,
                "url": url,
                "status": status,
                "kind": kind,
                "limit": limit,
                "body": body,
            }
        )
        return await self._run(self._op_callbacks(filters))

    async def redeliver(self, delivery_id: int) -> CallbackDelivery:
        return await self._run(self._op_redeliver(delivery_id))

    async def faults(self) -> Faults:
        return await self._run(self._op_faults())

    async def set_faults(
        self,
        api: list[ApiFault | Mapping[str, Any]] | None = None,
        callbacks: CallbackFaults | Mapping[str, Any] | None = None,
    ) -> Faults:
        return await self._run(self._op_set_faults(api, callbacks))

    async def clear_faults(self) -> Faults:
        return await self._run(self._op_set_faults(None, None))

    async def settings(self) -> AccountSettings:
        return await self._run(self._op_settings())

    async def update_settings(self, **changes: Any) -> AccountSettings:
        return await self._run(self._op_update_settings(changes))

    async def inbound(
        self,
        text: str | None = None,
        *,
        message_id: str | None = None,
        phone: Phone | None = None,
        channel: Literal["viber", "whatsapp"] | None = None,
        **media: str,
    ) -> CallbackDelivery:
        fields = {
            "text": text,
            "message_id": message_id,
            "phone": None if phone is None else _phone(phone),
            "channel": channel,
            **media,
        }
        return await self._run(self._op_inbound(fields))

    async def send_single(self, body: Mapping[str, Any]) -> str:
        return await self._run(self._op_send_single(body))

    @overload
    async def send_batch(self, body: Mapping[str, Any], sync: Literal[False] = ...) -> str: ...
    @overload
    async def send_batch(
        self, body: Mapping[str, Any], sync: Literal[True]
    ) -> list[Acceptance]: ...
    async def send_batch(
        self, body: Mapping[str, Any], sync: bool = False
    ) -> str | list[Acceptance]:
        return await self._run(self._op_send_many("batch", body, sync))

    @overload
    async def send_broadcast(self, body: Mapping[str, Any], sync: Literal[False] = ...) -> str: ...
    @overload
    async def send_broadcast(
        self, body: Mapping[str, Any], sync: Literal[True]
    ) -> list[Acceptance]: ...
    async def send_broadcast(
        self, body: Mapping[str, Any], sync: bool = False
    ) -> str | list[Acceptance]:
        return await self._run(self._op_send_many("broadcast", body, sync))

    async def status(self, job_id: str) -> dict[str, Any]:
        return await self._run(self._op_status(job_id))

    async def dr(self, message_id: str, advanced: bool = False) -> dict[str, Any]:
        return await self._run(self._op_dr(message_id, advanced, external=False))

    async def dr_external(self, extra_id: str, advanced: bool = False) -> dict[str, Any]:
        return await self._run(self._op_dr(extra_id, advanced, external=True))
