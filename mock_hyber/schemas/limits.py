"""Field limits of the Hyber request parameters, as data shared by request-level validation and
the per-recipient check of broadcast values after `%key%` substitution."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from mock_hyber.engine.ctr import as_counted, rewrites
from mock_hyber.engine.sms import MAX_SEGMENTS, is_gsm7_alpha_name, segment_count

# A broadcast variable: %name% where name is a recipient key.
PLACEHOLDER = re.compile(r"%([A-Za-z_][A-Za-z0-9_.\-]*)%")

VIBER_FILE_EXTENSIONS = frozenset(
    [
        ".doc",
        ".docx",
        ".rtf",
        ".dot",
        ".dotx",
        ".odt",
        ".odf",
        ".fodt",
        ".txt",
        ".info",
        ".pdf",
        ".xps",
        ".pdax",
        ".eps",
        ".xls",
        ".xlsx",
        ".ods",
        ".fods",
        ".csv",
        ".xlsm",
        ".xltx",
    ]
)


@dataclass(frozen=True, slots=True)
class Limit:
    """A rule on one string parameter. `problem()` names what is wrong, or returns None."""

    max_chars: int
    kind: str = "text"  # text | sms_text | sms_alpha | file_name
    min_chars: int = 0
    blank: bool = True  # False: a value of spaces only is refused (sender names)

    def problem(self, value: str) -> str | None:
        if self.kind == "sms_text":
            return self.problem_of_parts(value, segment_count(value))
        if len(value) < self.min_chars:
            return "must not be empty"
        if not self.blank and value and not value.strip():
            return "must not be blank"
        if len(value) > self.max_chars:
            return f"must be at most {self.max_chars} characters (got {len(value)})"
        if self.kind == "sms_alpha" and not is_gsm7_alpha_name(value):
            return "must use GSM-7 default alphabet characters only"
        if self.kind == "file_name":
            dot = value.rfind(".")
            if dot <= 0 or value[dot:].lower() not in VIBER_FILE_EXTENSIONS:
                return "must end with an allowed document extension (.pdf, .docx, .xlsx, ...)"
        return None

    def problem_of_parts(self, value: str, parts: int) -> str | None:
        """The SMS text rule, given the text's segment count (counted once by the caller)."""
        if len(value) < self.min_chars:
            return "must not be empty"
        if parts > MAX_SEGMENTS:
            return f"needs {parts} SMS segments, at most {MAX_SEGMENTS} are allowed"
        return None


def _checked(limit: Limit, templatable: bool, rewritten: bool = False) -> Any:
    def validate(value: str, info: ValidationInfo) -> str:
        # In a broadcast, a value holding %key% is checked per recipient after substitution.
        templated = templatable and info.context and info.context.get("templated")
        if templated and PLACEHOLDER.search(value):
            return value
        # With ctr, links count at their tracked length (`ctr` is validated before the texts).
        counted = as_counted(value) if rewritten and info.data.get("ctr") else value
        problem = limit.problem(counted)
        if problem:
            raise PydanticCustomError("limit", problem)
        return value

    schema: dict[str, Any] = {}
    if limit.kind != "sms_text":
        schema["maxLength"] = limit.max_chars
    return Annotated[str, AfterValidator(validate), Field(json_schema_extra=schema)]


URL = Limit(256)
TEXT = Limit(1000)
CAPTION = Limit(30)

CHANNEL_LIMITS: dict[str, dict[str, Limit]] = {
    "viber": {
        "text": TEXT,
        "alpha_name": Limit(64, blank=False),
        "img": URL,
        "caption": CAPTION,
        "action": URL,
        "file_name": Limit(25, "file_name"),
        "thumbnail": URL,
    },
    "sms": {
        "text": Limit(765, "sms_text", 1),
        "alpha_name": Limit(11, "sms_alpha", 1, blank=False),
    },
    "whatsapp": {
        "text": TEXT,
        "img": URL,
        "img_name": TEXT,
        "doc": URL,
        "doc_name": TEXT,
        "audio": URL,
        "video": URL,
        "video_name": TEXT,
    },
    "push": {
        "text": Limit(1000, min_chars=1),
        "title": Limit(20, min_chars=1),
        "img": URL,
        "caption": CAPTION,
        "action": URL,
    },
}

TOP_LEVEL_LIMITS = {
    "extra_id": Limit(64),
    "callback_url": URL,
    "tag": Limit(64),
    "division_code": Limit(100),
}


def checked(channel: str, field: str) -> Any:
    return _checked(CHANNEL_LIMITS[channel][field], True, rewrites(channel, field))


def top_checked(field: str) -> Any:
    # In a broadcast, `tag`, `callback_url` and `division_code` may hold %key% too.
    return _checked(TOP_LEVEL_LIMITS[field], templatable=True)
