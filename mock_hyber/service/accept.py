"""Accepting a sending request: expand it into messages (one per recipient), decide per
recipient whether it is accepted, give ids, count SMS parts, and store the job."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mock_hyber.engine.sms import MAX_SEGMENTS, segment_count
from mock_hyber.errors import HyberError
from mock_hyber.model import Job, Message, State
from mock_hyber.schemas.limits import CHANNEL_LIMITS, TOP_LEVEL_LIMITS
from mock_hyber.schemas.requests import (
    BatchRequest,
    BroadcastRequest,
    RequestBase,
    SingleRequest,
)
from mock_hyber.service.ids import new_ids
from mock_hyber.service.phones import echo_phone, normalize_phone
from mock_hyber.service.templating import BroadcastTemplate, MissingVariable, as_text
from mock_hyber.service.validation import check_request, has_content, parse_model
from mock_hyber.state import AccountState


class _BatchEnvelope(BatchRequest):
    messages: list[Any]  # items are checked by hand below: pydantic per item is too slow at 50k


class _BroadcastEnvelope(BroadcastRequest):
    recipients: list[Any]


EXTRA_ID_LIMIT = TOP_LEVEL_LIMITS["extra_id"]
PHONE_INCORRECT = 36024
TEMPLATE_INVALID = 36031


class SendingService:
    """Accepts single, batch and broadcast requests for one account."""

    def __init__(self, account: AccountState) -> None:
        self.account = account
        self.catalogue = account.backend.catalogue
        self._allowed = account.settings.callback_allowed_hosts

    # -- entry points ---------------------------------------------------------------------

    def send_single(self, body: Any) -> Message:
        with self._ids_kept_on_error():
            return self._send_single(body)

    def send_batch(self, body: Any) -> Job:
        with self._ids_kept_on_error():
            return self._send_batch(body)

    def send_broadcast(self, body: Any) -> Job:
        with self._ids_kept_on_error():
            return self._send_broadcast(body)

    @contextmanager
    def _ids_kept_on_error(self) -> Iterator[None]:
        """A refused request draws no ids: later requests get the ids they would have got.
        The garbage collector waits meanwhile: a 50,000-recipient request allocates many
        objects that all live on, and collecting in the middle only costs time."""
        state = self.account.rng.getstate()
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield
        except HyberError:
            self.account.rng.setstate(state)
            raise
        finally:
            if collecting:
                gc.enable()

    def _send_single(self, body: Any) -> Message:
        request = parse_model(SingleRequest, body)
        start = check_request(request, allowed_hosts=self._allowed)
        phone = normalize_phone(request.phone_number, self.account.phone_pattern)
        if phone is None:
            raise HyberError.named("phone_incorrect")
        refusal = self._refusal(phone, request.extra_id, request.tag, tuple(request.channels))
        if refusal is not None:
            entry = self.catalogue.by_code(refusal)
            raise HyberError(refusal, entry.text if entry else "Rejected", 400)
        job_id, message_id = new_ids(self.account.rng, 2)
        job = self._job(job_id, "single", request, start)
        message = self._message(message_id, job, phone, request.extra_id)
        message.sms_parts = self._sms_parts(job, message)
        job.messages.append(message)
        self._store(job)
        return message

    def _send_batch(self, body: Any) -> Job:
        items = self._recipients(body, "messages")
        request = parse_model(_BatchEnvelope, body)
        start = check_request(request, text_from_items=True, allowed_hosts=self._allowed)
        ids = new_ids(self.account.rng, len(items) + 1)
        job = self._job(ids[0], "batch", request, start)
        channels = job.channels
        # SMS parts are counted once per text: the item's, or the channel's own for all.
        sms = "sms" in channels
        text_limits = [(ch, CHANNEL_LIMITS[ch]["text"]) for ch in channels if ch != "sms"]
        default_parts = self._sms_parts(job, None) if sms else 0
        # Each item's text is needed when some channel has nothing of its own to send.
        text_needed = any(
            not has_content(ch, getattr(request.channel_options, ch)) for ch in channels
        )
        pattern = self.account.phone_pattern
        append = job.messages.append
        for index, item in enumerate(items):
            if type(item) is not dict:
                raise HyberError.named("invalid_parameter", f"messages[{index}]: must be an object")
            extra_id = item.get("extra_id")
            if extra_id is not None:
                extra_id = _extra_id(extra_id, "messages", index)
            text = item.get("text") or None  # an empty text is no text
            parts = default_parts
            if text is not None:
                if type(text) is not str:
                    text = _text(text, f"messages[{index}].text")
                for channel, limit in text_limits:
                    problem = limit.problem(text)
                    if problem:
                        raise HyberError.named(
                            "invalid_parameter",
                            f"messages[{index}].text: {problem} for {channel}",
                        )
                if sms:
                    parts = segment_count(text)
                    if parts > MAX_SEGMENTS:
                        raise HyberError.named(
                            "invalid_parameter",
                            f"messages[{index}].text: needs {parts} SMS segments, at most "
                            f"{MAX_SEGMENTS} are allowed for sms",
                        )
            elif text_needed:
                raise HyberError.named("missing_parameter", f"messages[{index}].text")
            message = self._recipient(ids[index + 1], job, item, pattern, extra_id)
            message.text = text
            if message.accepted:
                message.sms_parts = parts
            append(message)
        self._store(job)
        return job

    def _send_broadcast(self, body: Any) -> Job:
        recipients = self._recipients(body, "recipients")
        request = parse_model(_BroadcastEnvelope, body, templated=True)
        start = check_request(request, allowed_hosts=self._allowed)
        ids = new_ids(self.account.rng, len(recipients) + 1)
        job = self._job(ids[0], "broadcast", request, start)
        template = BroadcastTemplate(job.channel_options, self.account.settings.template_missing)
        sms_templated = any(
            channel == "sms" and name == "text" for channel, name, *_ in template.fields
        )
        default_parts = self._sms_parts(job, None)
        pattern = self.account.phone_pattern
        append = job.messages.append
        for index, recipient in enumerate(recipients):
            if type(recipient) is not dict:
                raise HyberError.named(
                    "invalid_parameter", f"recipients[{index}]: must be an object"
                )
            extra_id = recipient.get("extra_id")
            if extra_id is not None:
                extra_id = _extra_id(extra_id, "recipients", index)
            message = self._recipient(ids[index + 1], job, recipient, pattern, extra_id)
            if message.accepted and template:
                self._personalise(message, template, recipient)
            if message.accepted and not sms_templated:
                message.sms_parts = default_parts  # a templated text was counted when checked
            append(message)
        self._store(job)
        return job

    # -- pieces ---------------------------------------------------------------------------

    def _store(self, job: Job) -> None:
        self.account.accept_job(job)

    def _refusal(
        self, phone: str, extra_id: str | None, tag: str | None, channels: tuple[str, ...]
    ) -> int | None:
        return self.account.engine.planner.rejection(phone, extra_id, tag, channels)

    def _recipients(self, body: Any, key: str) -> list[Any]:
        """The recipient list, with its count checked before anything costly is done."""
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            return []  # the model check names the missing or mistyped field
        limit = self.account.settings.max_recipients
        if len(items) > limit:
            raise HyberError.named(
                "too_many_recipients", f"{key}: {len(items)} given, at most {limit} per request"
            )
        if not items:
            raise HyberError.named("no_recipients", f"{key}: the list is empty")
        return items

    def _job(self, job_id: str, kind: str, request: RequestBase, start: float | None) -> Job:
        channels = tuple(request.channels)
        options = {
            channel: getattr(request.channel_options, channel).model_dump(exclude_none=True)
            for channel in channels
        }
        return Job(
            job_id=job_id,
            client_id=self.account.client_id,
            kind=kind,
            created_ms=self.account.clock.now_ms(),
            channels=channels,
            channel_options=options,
            callback_url=request.callback_url,
            start_ms=None if start is None else int(start * 1000),
            tag=request.tag,
            division_code=request.division_code,
        )

    def _message(self, message_id: str, job: Job, phone: str, extra_id: str | None) -> Message:
        return Message(
            message_id=message_id,
            job=job,
            phone=phone,
            extra_id=extra_id,
            accepted=True,
            state=State.PENDING,
        )

    def _recipient(
        self, message_id: str, job: Job, item: dict[str, Any], pattern: Any, extra_id: str | None
    ) -> Message:
        raw_phone = item.get("phone_number")
        phone = normalize_phone(raw_phone, pattern)
        if phone is None:
            message = self._message(message_id, job, echo_phone(raw_phone), extra_id)
            self._reject(message, PHONE_INCORRECT)
            return message
        message = self._message(message_id, job, phone, extra_id)
        refusal = self._refusal(phone, extra_id, job.tag, job.channels)
        if refusal is not None:
            self._reject(message, refusal)
        return message

    def _reject(self, message: Message, code: int, detail: str | None = None) -> None:
        message.accepted = False
        message.state = State.REJECTED
        message.sms_parts = 0
        message.error_code = code
        if detail:
            entry = self.catalogue.by_code(code)
            message.error_text = f"{entry.text}: {detail}" if entry else detail

    def _personalise(
        self, message: Message, template: BroadcastTemplate, recipient: dict[str, Any]
    ) -> None:
        try:
            rendered = template.render(recipient)
        except MissingVariable as missing:
            self._reject(message, TEMPLATE_INVALID, f"%{missing.key}% {missing.reason}")
            return
        for channel, values in rendered.items():
            limits = CHANNEL_LIMITS[channel]
            for name, value in values.items():
                if channel == "sms" and name == "text":
                    # Count the segments once: for the limit, and as the message's parts.
                    message.sms_parts = segment_count(value)
                    problem = limits[name].problem_of_parts(value, message.sms_parts)
                else:
                    limit = limits.get(name)
                    problem = limit.problem(value) if limit else None
                if problem:
                    detail = f"channel_options.{channel}.{name} {problem}"
                    self._reject(message, TEMPLATE_INVALID, detail)
                    return
        message.personal = rendered

    @staticmethod
    def _sms_parts(job: Job, message: Message | None) -> int:
        """Segments of the message's SMS text (None: the channel's own text)."""
        if "sms" not in job.channels:
            return 0
        if message is None:
            text = job.channel_options["sms"].get("text")
        else:
            text = message.option("sms", "text")
        return segment_count(text) if text else 0


def _extra_id(value: Any, key: str, index: int) -> str:
    """A recipient's extra_id (the error names `key[index].extra_id`, built only then)."""
    text = value if type(value) is str else _text(value, f"{key}[{index}].extra_id")
    if len(text) > EXTRA_ID_LIMIT.max_chars:
        problem = EXTRA_ID_LIMIT.problem(text)
        raise HyberError.named("invalid_parameter", f"{key}[{index}].extra_id: {problem}")
    return text


def _text(value: Any, where: str) -> str:
    """A string parameter; numbers are taken as their text, as lenient clients send them."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return as_text(value)
    raise HyberError.named("invalid_parameter", f"{where}: must be a string")
