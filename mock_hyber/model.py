"""The shared data model, at the bottom of the layers: every package may import it, it imports
no other part of mock_hyber.

Jobs and their messages, the kinds of moment in a message's life, what happened to a message
(a Happening), and callback deliveries with their attempts. Slotted classes keep a million
stored messages small.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

CHANNEL_NAMES = ("push", "viber", "sms", "whatsapp")
REQUEST = "request"  # broadcast templates: the key of the top-level fields (tag, callback_url, ...)
PLATFORM = "hyber"  # sent_via / last_partner when the platform itself settled a message
KYIV = ZoneInfo("Europe/Kyiv")  # Hyber's local time: start_time without an offset, Viber replies


class Kind(IntEnum):
    """The kinds of moment in a message's life (see engine.timeline)."""

    START = 1  # the leg is sent on its channel (code: the channel's "sent" status)
    DELIVERED = 2  # the leg is delivered (code: delivered status)
    EXPIRED = 3  # the leg reached its ttl undelivered
    FAILED = 4  # the leg failed (not a Viber user, operator rejection, ...)
    FALLBACK = 5  # the ttl passed undelivered, the next channel starts, this one may still deliver
    LATE = 6  # a leg delivered after its ttl, once the cascade had moved on
    SEEN = 7  # the user saw / read the message (Viber, WhatsApp)
    CLICK = 8  # the user clicked tracked links (code: how many clicks)
    BLOCKED = 9  # the platform blocked the message before any channel (sent_via "hyber")


class State(IntEnum):
    REJECTED = 0  # refused at acceptance (accepted: false)
    PENDING = 1  # accepted, no channel attempted yet (start_time in the future, or not yet run)
    ACTIVE = 2  # a channel leg is in progress
    DELIVERED = 3  # final: delivered on some channel
    FAILED = 4  # final: no channel delivered, or blocked by the platform

    @property
    def final(self) -> bool:
        return self in (State.REJECTED, State.DELIVERED, State.FAILED)


class TextColumn:
    """Many short texts (extra_ids, batch texts, substitutions) held as one str and where
    each ends, with None where a recipient has none: a few bytes per recipient, instead of
    a str object each (about 60 bytes) scattered over the heap."""

    __slots__ = ("_ends", "_missing", "_small", "_text")

    SMALL = 16  # up to this many values, a plain tuple (numpy's per-call cost would dominate)

    def __init__(self, values: Sequence[str | None]) -> None:
        self._small: tuple[str | None, ...] | None = None
        if len(values) <= self.SMALL:
            self._small = tuple(values)
            return
        self._joined(*_text_part(values))

    def _joined(self, text: str, lengths: npt.NDArray[np.int64], missing: Any) -> None:
        self._text = text
        ends = np.cumsum(lengths)
        self._ends = ends.astype(np.uint32) if len(text) < 2**32 else ends
        self._missing = missing if missing.any() else None

    def __len__(self) -> int:
        return len(self._small) if self._small is not None else len(self._ends)

    def __getitem__(self, index: int) -> str | None:
        if self._small is not None:
            return self._small[index]
        if self._missing is not None and self._missing[index]:
            return None
        end = int(self._ends[index])
        return self._text[int(self._ends[index - 1]) if index else 0 : end]

    def to_list(self) -> list[str | None]:
        """Every value, at once (faster than indexing one by one)."""
        if self._small is not None:
            return list(self._small)
        ends = self._ends.tolist()
        text = self._text
        values: list[str | None] = []
        start = 0
        for end in ends:
            values.append(text[start:end])
            start = end
        if self._missing is not None:
            for index in np.flatnonzero(self._missing).tolist():
                values[index] = None
        return values

    def indexes_of(self, value: str) -> list[int]:
        """Where `value` is held, in order."""
        if self._small is not None:
            return [index for index, held in enumerate(self._small) if held == value]
        if not value:
            empty = np.diff(self._ends.astype(np.int64), prepend=0) == 0
            if self._missing is not None:
                empty &= ~self._missing
            return np.flatnonzero(empty).tolist()
        found: list[int] = []
        text, ends = self._text, self._ends
        position = text.find(value)
        while position >= 0:
            index = int(np.searchsorted(ends, position, side="right"))
            start = int(ends[index - 1]) if index else 0
            if start == position and int(ends[index]) == position + len(value):
                found.append(index)
            position = text.find(value, position + 1)
        return found


def _text_part(values: Sequence[str | None]) -> tuple[str, npt.NDArray[np.int64], Any]:
    """Some values as TextColumn holds them: joined, their lengths, where one is None."""
    text = "".join(value for value in values if value is not None)
    lengths = np.fromiter(
        (0 if value is None else len(value) for value in values), np.int64, len(values)
    )
    missing = np.fromiter((value is None for value in values), bool, len(values))
    return text, lengths, missing


class TextColumnBuilder:
    """A TextColumn made a slice of values at a time (the intake loop fills 50,000 recipients
    between requests): each `add` of a slice does its share of the work, `build` only joins.
    A few values (a small request) are only kept, and made into a column at once."""

    PART = 64  # values kept as they are until this many: numpy's per-call cost would dominate

    def __init__(self) -> None:
        self._parts: list[tuple[str, npt.NDArray[np.int64], Any]] = []
        self._kept: list[str | None] = []
        self._any_packed = False

    def add(self, values: Sequence[str | None]) -> None:
        self._kept.extend(values)
        if len(self._kept) >= self.PART:
            self._pack()

    @property
    def any_value(self) -> bool:
        """Whether some value added is not None."""
        return self._any_packed or any(value is not None for value in self._kept)

    def _pack(self) -> None:
        part = _text_part(self._kept)
        self._parts.append(part)
        self._any_packed = self._any_packed or not bool(part[2].all())
        self._kept = []

    def build(self) -> TextColumn:
        if not self._parts:
            return TextColumn(self._kept)
        if self._kept:
            self._pack()
        column = TextColumn.__new__(TextColumn)
        column._small = None
        column._joined(
            "".join(part[0] for part in self._parts),
            np.concatenate([part[1] for part in self._parts]),
            np.concatenate([part[2] for part in self._parts]),
        )
        return column


@dataclass(slots=True)
class Rejection:
    """Why a recipient was refused at acceptance."""

    code: int
    text: str | None = None  # when it differs from the catalogue's text
    phone: str | None = None  # the phone_number as sent, when it was not a correct number


@dataclass(slots=True, eq=False)
class Job:
    """A request as it was accepted: the request once, plus one column per recipient field.

    Nothing else is kept per message: ids derive from the job's number (see `ids`), texts are
    rendered when read, and every message's life is a pure function of its plan (`lives`,
    evaluated at the account's virtual time). Rejections and forced changes are sparse.
    """

    number: int  # the account's job counter: ids and random draws derive from it
    job_id: str
    client_id: str
    kind: str  # "single" | "batch" | "broadcast"
    created_ms: int
    channels: tuple[str, ...]
    channel_options: dict[str, dict[str, Any]]
    callback_url: str | None
    start_ms: int | None
    tag: str | None
    division_code: str | None
    size: int = 0
    phones: Any = None  # numpy int64 column; 0 where the phone_number was not a correct one
    extra_ids: TextColumn | None = None  # None: no recipient has one
    texts: TextColumn | None = None  # batch: each item's own text (None: the channel's)
    values: TextColumn | None = None  # broadcast: each recipient's %key% values, packed
    sms_parts: Any = None  # numpy uint8 column
    rejected: dict[int, Rejection] = field(default_factory=dict)
    begin_ms: int = 0  # when the cascade starts: acceptance, or a later start_time
    ids: Any = None  # ids.IdCodec of the account
    route: Any = None  # engine.plan.Route
    planner: Any = None  # engine.planner.Planner in force at acceptance
    template: Any = None  # service.templating.BroadcastTemplate, renders `values` on read
    planned: Any = None  # engine.lives.Lives, once planned (see `lives`)
    reported: Any = None  # the engine's reported moments, sorted while planning, for admit
    plan: Callable[[Job], Any] | None = None  # plans the lives: the engine sets it on admission
    versions: dict[int, int] = field(default_factory=dict)  # messages decided one by one
    ends_ms: int | None = None  # when its last planned moment happens (once planned)
    revision: int = 0  # counts the rewrites of its lives (forced transitions)
    settled: Any = None  # every message's final state, once nothing is left to happen
    removed: bool = False  # dropped (retention, reset): what is scheduled for it is stale
    viber_registry: Any = None  # engine.viber_templates.ViberTemplates at acceptance, if any
    template_ids: Any = None  # each message's matching Viber template id (0: none), on use
    # The account's WhatsApp sessions at acceptance (phone -> its user's last message, ms);
    # None: every number is taken to be in a session.
    whatsapp_sessions: dict[str, int] | None = None

    @property
    def lives(self) -> Any:
        """Every message's planned life (engine.lives.Lives), planned on first use: a job
        nobody reads and no callback reports is never planned at all."""
        if self.planned is None:
            assert self.plan is not None, "the job was not admitted by an engine"
            self.planned = self.plan(self)
        return self.planned

    def viber_template_id(self, index: int) -> int:
        """The id of the registered Viber template message `index`'s text matches (0: none)."""
        return int(self.viber_template_ids()[index])

    def viber_template_ids(self) -> Any:
        """Every message's matching template id (numpy int64; 0: none), matched once."""
        if self.template_ids is None:
            ids = np.zeros(self.size, np.int64)
            registry = self.viber_registry
            if registry and "viber" in self.channels:
                for index in range(self.size):
                    if index not in self.rejected:
                        ids[index] = registry.match(self.option(index, "viber", "text"))
            self.template_ids = ids
        return self.template_ids

    def options(self, channel: str) -> dict[str, Any]:
        return self.channel_options[channel]

    def message_id(self, index: int) -> str:
        return str(self.ids.id_of(self.number, index))

    def phone(self, index: int) -> str:
        rejection = self.rejected.get(index)
        if rejection is not None and rejection.phone is not None:
            return rejection.phone
        return str(int(self.phones[index]))

    def phone_texts(self) -> list[str]:
        """`phone(index)` for every recipient, at once (whole-job answers and reports)."""
        texts = [str(phone) for phone in self.phones.tolist()]
        for index, rejection in self.rejected.items():
            if rejection.phone is not None:
                texts[index] = rejection.phone
        return texts

    def extra_id(self, index: int) -> str | None:
        return None if self.extra_ids is None else self.extra_ids[index]

    def top(self, index: int, name: str) -> str | None:
        """A top-level field (tag, callback_url, division_code) as recipient `index` gets it:
        a broadcast's `%key%` rendered with its values."""
        value: str | None = getattr(self, name)
        template = self.template
        if self.values is not None and template is not None and template.templates(REQUEST, name):
            values = self.values[index]
            if values is not None:
                rendered = template.field(REQUEST, name, values)
                if rendered is not None:
                    return rendered or None
        return value

    def option(self, index: int, channel: str, name: str) -> Any:
        """A channel option as recipient `index` gets it (after substitution, batch text)."""
        if self.values is not None and self.template is not None:
            values = self.values[index]
            if values is not None:
                rendered = self.template.field(channel, name, values)
                if rendered is not None:
                    return rendered
        if name == "text" and self.texts is not None:
            text = self.texts[index]
            if text is not None:
                return text
        return self.channel_options[channel].get(name)


@dataclass(slots=True, eq=False)
class Message:
    """One recipient of a job as of one virtual time, built on demand from the job's columns
    and its planned life: `script` holds the moments (see engine.timeline), `step` counts those
    that had happened then, `state` is what they add up to."""

    job: Job
    index: int
    message_id: str
    phone: str
    extra_id: str | None
    accepted: bool
    state: State
    sms_parts: int = 0
    error_code: int | None = None  # refusal at acceptance, or the final failure's code
    error_text: str | None = None  # set when it differs from the catalogue's text
    script: bytes | None = None
    step: int = 0

    @property
    def created_ms(self) -> int:
        return self.job.created_ms

    def option(self, channel: str, name: str) -> Any:
        return self.job.option(self.index, channel, name)


@dataclass(frozen=True, slots=True)
class Happening:
    """A moment as it happened to a message: what the callbacks and metrics are told."""

    message: Message
    kind: Kind
    final: bool
    leg: int
    code: int
    at_ms: int


# -- callback deliveries --------------------------------------------------------------------

PENDING, QUEUED, DELIVERED, FAILED, DROPPED = "pending", "queued", "delivered", "failed", "dropped"
FINISHED = (DELIVERED, FAILED, DROPPED)


@dataclass(slots=True)
class Attempt:
    number: int
    at_ms: int  # virtual time of the attempt
    status_code: int | None
    error: str | None
    latency_ms: float


@dataclass(slots=True, eq=False)
class Delivery:
    """One POST to make (a report, a batch of reports, or a user reply) and its attempts."""

    id: int
    client_id: str
    kind: str  # report | batch | inbound
    url: str
    body: bytes
    message_ids: tuple[str, ...]
    job_ids: tuple[str, ...]
    created_ms: int
    due_ms: int
    status: str = PENDING
    attempts: list[Attempt] = field(default_factory=list)
    note: str | None = None
    round_start: int = 0  # attempts made before the latest redelivery

    @property
    def round_attempts(self) -> int:
        return len(self.attempts) - self.round_start


class Counter:
    """Increasing ids (callback deliveries): one per backend, so an id never names two."""

    def __init__(self) -> None:
        self._next = itertools.count(1)

    def next(self) -> int:
        return next(self._next)

    def reserve_through(self, highest: int) -> None:
        """After restoring stored deliveries, new ids continue above theirs."""
        self._next = itertools.count(max(next(self._next), highest + 1))
