"""The code catalogue: statuses, substatuses, hyber_status codes and request errors, from data.

The data file ships in `mock_hyber/engine/data/codes.yaml`; a backend may load its own.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

Source = Literal["documented", "third-party", "mock"]


class PlainCode(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: int
    text: str
    source: Source


class HyberStatus(PlainCode):
    """A detailed status: what a channel leg (or the platform) reports for one event."""

    status: int
    substatus: int
    channel: str
    event: str


class RequestError(PlainCode):
    name: str
    http_status: int


class CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statuses: list[PlainCode]
    substatuses: list[PlainCode]
    hyber_statuses: list[HyberStatus]
    request_errors: list[RequestError]


class Catalogue:
    """Indexed view of a catalogue file; look codes up by (channel, event) or error name."""

    def __init__(self, data: CatalogueFile) -> None:
        self.data = data
        self._by_event = {(row.channel, row.event): row for row in data.hyber_statuses}
        self._by_code = {row.code: row for row in data.hyber_statuses}
        self._errors = {row.name: row for row in data.request_errors}

    def event(self, channel: str, event: str) -> HyberStatus:
        return self._by_event[(channel, event)]

    def has_event(self, channel: str, event: str) -> bool:
        return (channel, event) in self._by_event

    def by_code(self, code: int) -> HyberStatus | None:
        return self._by_code.get(code)

    def error(self, name: str) -> RequestError:
        return self._errors[name]

    def as_dict(self) -> dict[str, object]:
        return self.data.model_dump()


def load_catalogue(path: str | os.PathLike[str] | None = None) -> Catalogue:
    if path is None:
        text = resources.files("mock_hyber.engine").joinpath("data/codes.yaml").read_text("utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return Catalogue(CatalogueFile.model_validate(yaml.safe_load(text)))


@cache
def builtin_catalogue() -> Catalogue:
    """The catalogue shipped with the package. A backend built with `codes_file` holds its own
    catalogue; nothing in the process is global to it."""
    return load_catalogue()
