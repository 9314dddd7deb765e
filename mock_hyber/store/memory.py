"""In-memory store of one account: jobs and messages, indexed by job, message_id, extra_id and
phone number."""

from __future__ import annotations

from collections.abc import Iterator

from mock_hyber.model import Job, Message

# An index slot holds one message, or a list once a second message shares the key: most keys
# (phone numbers, extra_ids) are unique, and a list per key would double the index's size.
_Slot = Message | list[Message]


def _add(index: dict[str, _Slot], key: str, message: Message) -> None:
    slot = index.get(key)
    if slot is None:
        index[key] = message
    elif isinstance(slot, list):
        slot.append(message)
    else:
        index[key] = [slot, message]


def _remove(index: dict[str, _Slot], key: str, message: Message) -> None:
    slot = index.get(key)
    if slot is message:
        del index[key]
    elif isinstance(slot, list):
        remaining = [item for item in slot if item is not message]
        if len(remaining) == 1:
            index[key] = remaining[0]
        elif remaining:
            index[key] = remaining
        else:
            del index[key]


def _all(slot: _Slot | None) -> list[Message]:
    if slot is None:
        return []
    return slot if isinstance(slot, list) else [slot]


class MemoryStore:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.messages: dict[str, Message] = {}
        self._by_extra_id: dict[str, _Slot] = {}
        self._by_phone: dict[str, _Slot] = {}

    def add_job(self, job: Job) -> None:
        self.jobs[job.job_id] = job
        messages = self.messages
        for message in job.messages:
            messages[message.message_id] = message
            _add(self._by_phone, message.phone, message)
            if message.extra_id is not None:
                _add(self._by_extra_id, message.extra_id, message)

    def remove_job(self, job: Job) -> None:
        """Forget a job and its messages (retention)."""
        self.jobs.pop(job.job_id, None)
        for message in job.messages:
            self.messages.pop(message.message_id, None)
            _remove(self._by_phone, message.phone, message)
            if message.extra_id is not None:
                _remove(self._by_extra_id, message.extra_id, message)

    def oldest_job(self) -> Job | None:
        return next(iter(self.jobs.values()), None)

    def job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def message(self, message_id: str) -> Message | None:
        return self.messages.get(message_id)

    def by_extra_id(self, extra_id: str) -> list[Message]:
        return _all(self._by_extra_id.get(extra_id))

    def latest_by_extra_id(self, extra_id: str) -> Message | None:
        found = self.by_extra_id(extra_id)
        return found[-1] if found else None

    def by_phone(self, phone: str) -> list[Message]:
        return _all(self._by_phone.get(phone))

    def iter_messages(self) -> Iterator[Message]:
        return iter(self.messages.values())

    def __len__(self) -> int:
        return len(self.messages)

    def reset(self) -> None:
        self.jobs.clear()
        self.messages.clear()
        self._by_extra_id.clear()
        self._by_phone.clear()
