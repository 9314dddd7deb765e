"""Accepting a sending request: check it, decide per recipient whether it is accepted, count
SMS parts, and store the job as the request plus per-recipient columns (ids are derived from
the job's number, texts are rendered when read, lives are planned by the engine)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np

from mock_hyber.engine.ctr import as_counted, rewrites
from mock_hyber.engine.sms import MAX_SEGMENTS, segment_count
from mock_hyber.errors import HyberError
from mock_hyber.model import REQUEST, Job, Rejection, TextColumn, TextColumnBuilder
from mock_hyber.schemas.limits import CHANNEL_LIMITS, TOP_LEVEL_LIMITS, Limit
from mock_hyber.schemas.requests import (
    BatchRequest,
    BroadcastRequest,
    RequestBase,
    SingleRequest,
)
from mock_hyber.service.phones import echo_phone, normalize_phone
from mock_hyber.service.validation import (
    check_callback_url,
    check_request,
    has_content,
    parse_model,
)
from mock_hyber.state import AccountState
from mock_hyber.templating import (
    BroadcastTemplate,
    MissingVariable,
    as_text,
    pack_substitutions,
    template_for,
    template_sources,
)


class _BatchEnvelope(BatchRequest):
    messages: list[Any]  # items are checked by hand below: pydantic per item is too slow at 50k


class _BroadcastEnvelope(BroadcastRequest):
    recipients: list[Any]


SAFE_TEXT = 167  # a text this short fits every limit: 1,000 characters, 5 SMS segments
SLICE = 200  # recipients filled at a time by the intake loop (about 1 ms)
SMALL_COMMIT = 64  # up to this many recipients, columns are made at once (numpy's call cost)
DEFER_FROM = 1000  # recipients from which an async request is filled after its answer
LARGE_REQUEST = 1000  # recipients from which the garbage collector waits for the request
EXTRA_ID_LIMIT = TOP_LEVEL_LIMITS["extra_id"]
PHONE_INCORRECT = 36024
TEMPLATE_INVALID = 36031


class SendingService:
    """Accepts single, batch and broadcast requests for one account, as columns."""

    def __init__(self, account: AccountState) -> None:
        self.account = account
        self.catalogue = account.backend.catalogue
        self._checks: dict[str, Any] = {
            "destinations": account.backend.destinations,
            "whatsapp_min_ttl": account.settings.whatsapp_min_ttl,
        }

    # -- entry points ---------------------------------------------------------------------

    def send_single(self, body: Any) -> Job:
        """A one-message job; its message is index 0."""
        return self._send_single(body)

    def send_batch(self, body: Any, defer: bool = False) -> Job:
        """Accept a batch. With `defer`, a large one is answered once it is checked as a
        whole; its recipients are then taken in slices off the request (see `_accept`)."""
        with _no_collection(body, "messages"):
            job, fill = self._batch(body)
        return self._accept(job, fill, defer)

    def send_broadcast(self, body: Any, defer: bool = False) -> Job:
        with _no_collection(body, "recipients"):
            job, fill = self._broadcast(body)
        return self._accept(job, fill, defer)

    def _accept(self, job: Job, fill: Iterator[None], defer: bool) -> Job:
        """Every check that can refuse the whole request has passed: store the job. Its
        recipient columns (phones, per-recipient rejections, SMS parts) are filled now, or,
        for a deferred large job, by the intake loop in slices (anything that reads the job
        before that finishes filling it first). Deferral needs the in-memory store: with
        persistence, a job is committed whole before the answer."""
        account = self.account
        if defer and job.size >= DEFER_FROM and account.backend.journal is None:
            account.accept_deferred(job, fill)
        else:
            with _no_collection_for(job.size):
                for _ in fill:
                    pass
            account.accept_job(job)
        return job

    def _send_single(self, body: Any) -> Job:
        request = parse_model(SingleRequest, body)
        start = check_request(request, **self._checks)
        phone = normalize_phone(request.phone_number, self.account.phone_pattern)
        if phone is None:
            raise HyberError.named("phone_incorrect")
        refusal = self._refusal(phone, request.extra_id, request.tag, tuple(request.channels))
        if refusal is not None:
            entry = self.catalogue.by_code(refusal)
            raise HyberError(refusal, entry.text if entry else "Rejected", 400)
        job = self._job("single", request, start, 1)
        job.phones = np.array([int(phone)], dtype=np.int64)
        if request.extra_id is not None:
            job.extra_ids = TextColumn([request.extra_id])
        job.sms_parts = np.array([self._channel_sms_parts(job)], dtype=np.uint8)
        self.account.accept_job(job)
        return job

    def _batch(self, body: Any) -> tuple[Job, Iterator[None]]:
        items = self._recipients(body, "messages")
        request = parse_model(_BatchEnvelope, body)
        start = check_request(request, text_from_items=True, **self._checks)
        count = len(items)
        job = self._job("batch", request, start, count)
        channels = job.channels
        sms = "sms" in channels
        text_limits = [(ch, CHANNEL_LIMITS[ch]["text"]) for ch in channels if ch != "sms"]
        tracked = _tracked_channels(job)
        # Each item's text is needed when some channel has nothing of its own to send.
        text_needed = any(
            not has_content(ch, getattr(request.channel_options, ch)) for ch in channels
        )
        columns = _Columns(count, self._channel_sms_parts(job) if sms else 0)
        texts: list[str | None] = [None] * count
        extra_ids = columns.extra_ids
        # Whatever refuses the whole request is checked here, before the answer.
        for index, item in enumerate(items):
            if type(item) is not dict:
                raise HyberError.named("invalid_parameter", f"messages[{index}]: must be an object")
            extra_id = item.get("extra_id")
            if extra_id is not None:
                extra_ids[index] = _extra_id(extra_id, "messages", index)
            text = item.get("text") or None  # an empty text is no text
            if text is not None:
                if type(text) is not str:
                    text = _text(text, f"messages[{index}].text")
                # Shorter texts fit every limit (unless ctr lengthens short links).
                if len(text) > SAFE_TEXT or tracked:
                    _check_item_text(index, text, text_limits, sms, tracked)
                texts[index] = text
            elif text_needed:
                raise HyberError.named("missing_parameter", f"messages[{index}].text")
        return job, self._fill_batch(job, items, columns, texts, sms, "sms" in tracked)

    def _fill_batch(
        self,
        job: Job,
        items: list[Any],
        columns: _Columns,
        texts: list[str | None],
        sms: bool,
        sms_tracked: bool,
    ) -> Iterator[None]:
        parts = columns.sms_parts
        texts_column = TextColumnBuilder()
        for start in range(0, job.size, SLICE):
            stop = min(start + SLICE, job.size)
            for index in range(start, stop):
                text = texts[index]
                if self._recipient(columns, index, job, items[index], columns.extra_ids[index]):
                    if sms and text is not None:
                        parts[index] = segment_count(as_counted(text) if sms_tracked else text)
                else:
                    texts[index] = None
            columns.commit(stop)
            texts_column.add(texts[start:stop])
            yield
        columns.fill(job)
        if texts_column.any_value:
            job.texts = texts_column.build()

    def _broadcast(self, body: Any) -> tuple[Job, Iterator[None]]:
        items = self._recipients(body, "recipients")
        request = parse_model(_BroadcastEnvelope, body, templated=True)
        start = check_request(request, templated=True, **self._checks)
        count = len(items)
        job = self._job("broadcast", request, start, count)
        columns = _Columns(count, self._channel_sms_parts(job))
        extra_ids = columns.extra_ids
        # Whatever refuses the whole request is checked here, before the answer.
        for index, recipient in enumerate(items):
            if type(recipient) is not dict:
                raise HyberError.named(
                    "invalid_parameter", f"recipients[{index}]: must be an object"
                )
            extra_id = recipient.get("extra_id")
            if extra_id is not None:
                extra_ids[index] = _extra_id(extra_id, "recipients", index)
        return job, self._fill_broadcast(job, items, columns)

    def _fill_broadcast(self, job: Job, items: list[Any], columns: _Columns) -> Iterator[None]:
        top = {"tag": job.tag, "callback_url": job.callback_url}
        top["division_code"] = job.division_code
        template = template_for(
            template_sources(job.channel_options, top), self.account.settings.template_missing
        )
        values: list[str | None] | None = [None] * job.size if template else None
        tracked = _tracked_channels(job)
        checks = [
            (channel, name, pattern, slots, _limit_of(channel, name), channel in tracked)
            for channel, name, pattern, slots in template.fields
        ]
        tagged = template.templates(REQUEST, "tag")
        extra_ids = columns.extra_ids
        values_column = TextColumnBuilder()
        for start in range(0, job.size, SLICE):
            stop = min(start + SLICE, job.size)
            for index in range(start, stop):
                recipient = items[index]
                # Scenario rules match the tag this recipient gets.
                tag = template.render_one(REQUEST, "tag", recipient) if tagged else job.tag
                accepted = self._recipient(columns, index, job, recipient, extra_ids[index], tag)
                if accepted and values is not None:
                    values[index] = self._personalise(columns, index, template, checks, recipient)
            columns.commit(stop)
            if values is not None:
                values_column.add(values[start:stop])
            yield
        columns.fill(job)
        if template:
            job.template, job.values = template, values_column.build()

    # -- pieces ---------------------------------------------------------------------------

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

    def _job(self, kind: str, request: RequestBase, start: float | None, size: int) -> Job:
        account = self.account
        channels = tuple(request.channels)
        options = {
            channel: getattr(request.channel_options, channel).model_dump(exclude_none=True)
            for channel in channels
        }
        number = account.jobs_accepted + 1  # taken only if the request is accepted
        return Job(
            number=number,
            job_id=account.ids.id_of(number),
            client_id=account.client_id,
            kind=kind,
            created_ms=account.clock.now_ms(),
            channels=channels,
            channel_options=options,
            callback_url=request.callback_url,
            start_ms=None if start is None else int(start * 1000),
            tag=request.tag,
            division_code=request.division_code,
            size=size,
            ids=account.ids,
            # The Viber templates in force now decide this job's matches, whatever comes later.
            viber_registry=account.viber_templates or None,
            whatsapp_sessions=account.sessions_for_job(),
        )

    def _recipient(
        self,
        columns: _Columns,
        index: int,
        job: Job,
        item: dict[str, Any],
        extra_id: str | None,
        tag: str | None = None,
    ) -> bool:
        """Check one recipient's phone; True when it is accepted."""
        if extra_id is not None:
            columns.extra_ids[index] = extra_id
        raw_phone = item.get("phone_number")
        phone = normalize_phone(raw_phone, self.account.phone_pattern)
        if phone is None:
            columns.reject(index, Rejection(PHONE_INCORRECT, phone=echo_phone(raw_phone)))
            return False
        columns.phones[index] = int(phone)
        refusal = self._refusal(phone, extra_id, tag or job.tag, job.channels)
        if refusal is not None:
            columns.reject(index, Rejection(refusal))
            return False
        return True

    def _reject_rendered(self, columns: _Columns, index: int, detail: str) -> None:
        entry = self.catalogue.by_code(TEMPLATE_INVALID)
        text = f"{entry.text}: {detail}" if entry else detail
        columns.reject(index, Rejection(TEMPLATE_INVALID, text))

    def _personalise(
        self,
        columns: _Columns,
        index: int,
        template: BroadcastTemplate,
        checks: list[tuple[str, str, str, list[int], Limit | None, bool]],
        recipient: dict[str, Any],
    ) -> str | None:
        """The recipient's substitutions, checked against the limits after rendering (each
        templated field in turn; `checks` holds their patterns and limits)."""
        try:
            values = template.substitutions(recipient)
        except MissingVariable as missing:
            self._reject_rendered(columns, index, f"%{missing.key}% {missing.reason}")
            return None
        for channel, name, pattern, slots, limit, tracked in checks:
            if limit is None:
                continue
            value = pattern.format(*[values[slot] for slot in slots])
            if tracked and rewrites(channel, name):
                value = as_counted(value)  # links count at their tracked length
            if channel == REQUEST:
                problem = self._top_level_problem(name, value, limit)
                if problem:
                    self._reject_rendered(columns, index, f"{name} {problem}")
                    return None
                continue
            if limit.kind == "sms_text":
                # Count the segments once: for the limit, and as the message's parts.
                parts = segment_count(value)
                columns.sms_parts[index] = parts
                problem = limit.problem_of_parts(value, parts)
            elif limit.kind == "text" and limit.min_chars <= len(value) <= limit.max_chars:
                continue  # the common case, without a call
            else:
                problem = limit.problem(value)
            if problem:
                detail = f"channel_options.{channel}.{name} {problem}"
                self._reject_rendered(columns, index, detail)
                return None
        return pack_substitutions(values)

    def _top_level_problem(self, name: str, value: str, limit: Limit) -> str | None:
        problem = limit.problem(value)
        if problem is None and name == "callback_url" and value:
            try:
                check_callback_url(value, self._checks["destinations"])
            except HyberError as error:
                return (error.detail or error.text).removeprefix("callback_url: ")
        return problem

    @staticmethod
    def _channel_sms_parts(job: Job) -> int:
        """Segments of the SMS channel's own text."""
        if "sms" not in job.channels:
            return 0
        options = job.channel_options["sms"]
        text = options.get("text")
        if not text:
            return 0
        return segment_count(as_counted(text) if options.get("ctr") else text)


class _Columns:
    """The recipient columns of a job being accepted, filled index by index."""

    def __init__(self, count: int, default_parts: int) -> None:
        self.phones = [0] * count
        self.extra_ids: list[str | None] = [None] * count
        self.sms_parts = [default_parts] * count
        self.rejected: dict[int, Rejection] = {}
        # A large job's columns are made a slice at a time by `commit` (no long step at the
        # end); a small one's at once by `fill`.
        self._sliced = count > SMALL_COMMIT
        self._phones: Any = np.zeros(count, np.int64) if self._sliced else None
        self._sms_parts: Any = np.zeros(count, np.uint8) if self._sliced else None
        self._extra_ids = TextColumnBuilder()
        self._committed = 0

    def reject(self, index: int, rejection: Rejection) -> None:
        self.rejected[index] = rejection
        self.sms_parts[index] = 0

    def commit(self, stop: int) -> None:
        """Recipients up to `stop` are done: turn the ones not yet committed into columns."""
        if not self._sliced:
            return
        start, self._committed = self._committed, stop
        self._phones[start:stop] = self.phones[start:stop]
        self._sms_parts[start:stop] = self.sms_parts[start:stop]
        self._extra_ids.add(self.extra_ids[start:stop])

    def fill(self, job: Job) -> None:
        if self._sliced:
            self.commit(len(self.phones))
            job.phones, job.sms_parts = self._phones, self._sms_parts
        else:
            job.phones = np.array(self.phones, dtype=np.int64)
            job.sms_parts = np.array(self.sms_parts, dtype=np.uint8)
            self._extra_ids.add(self.extra_ids)
        job.rejected = self.rejected
        if self._extra_ids.any_value:
            job.extra_ids = self._extra_ids.build()


def _no_collection(body: Any, key: str) -> AbstractContextManager[None]:
    items = body.get(key) if isinstance(body, dict) else None
    return _no_collection_for(len(items) if isinstance(items, list) else 0)


@contextmanager
def _no_collection_for(size: int) -> Iterator[None]:
    """The garbage collector waits during a large request: a 50,000-recipient request
    allocates many objects that all live on, and collecting in the middle only costs time."""
    if size < LARGE_REQUEST:
        yield
        return
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _limit_of(channel: str, name: str) -> Limit | None:
    if channel == REQUEST:
        return TOP_LEVEL_LIMITS.get(name)
    return CHANNEL_LIMITS[channel].get(name)


def _tracked_channels(job: Job) -> frozenset[str]:
    """The channels with ctr on: their links count at the tracked length."""
    return frozenset(ch for ch in job.channels if job.channel_options[ch].get("ctr"))


def _check_item_text(
    index: int,
    text: str,
    text_limits: list[tuple[str, Limit]],
    sms: bool,
    tracked: frozenset[str] = frozenset(),
) -> None:
    """A batch item's text against each channel's limit (it is sent on every channel)."""
    counted = as_counted(text) if tracked else text
    for channel, limit in text_limits:
        problem = limit.problem(counted if channel in tracked else text)
        if problem:
            raise HyberError.named(
                "invalid_parameter", f"messages[{index}].text: {problem} for {channel}"
            )
    if sms:
        parts = segment_count(counted if "sms" in tracked else text)
        if parts > MAX_SEGMENTS:
            raise HyberError.named(
                "invalid_parameter",
                f"messages[{index}].text: needs {parts} SMS segments, at most "
                f"{MAX_SEGMENTS} are allowed for sms",
            )


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
