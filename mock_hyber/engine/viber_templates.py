"""Viber template matching: each account has a registry of templates (an id and a text pattern
with `{{name}}` placeholders). A text-only Viber message whose text matches a template is
delivered as a template message: hyber_status 23043 with `matching_template_id` the template's
id; one that matches none gets 23033 with `matching_template_id` 0 (the DEV docs' template
page). With an empty registry (the default) there is no matching at all: text-only messages
are ordinary Viber messages (23033, no `matching_template_id`), as for an account that has
registered no template with GMS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_][A-Za-z0-9_.\-]*\s*\}\}")
NO_MATCH = 0


@dataclass(frozen=True, slots=True)
class ViberTemplate:
    id: int
    text: str
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, template_id: int, text: str) -> ViberTemplate:
        if template_id < 1:
            raise ValueError("a template id is a positive number")
        literal = PLACEHOLDER.split(text)
        # A placeholder stands for at least one character of any kind.
        source = "(?:.+?)".join(re.escape(part) for part in literal)
        return cls(template_id, text, re.compile(source, re.DOTALL))


class ViberTemplates:
    """An account's registry, immutable: a change makes a new registry, so a job keeps the
    one in force when it was accepted."""

    def __init__(self, templates: Iterable[ViberTemplate] = ()) -> None:
        self.templates = tuple(templates)
        ids = [template.id for template in self.templates]
        if len(ids) != len(set(ids)):
            raise ValueError("template ids must be unique")

    @classmethod
    def parse(cls, items: Iterable[Mapping[str, Any]]) -> ViberTemplates:
        return cls(ViberTemplate.of(int(item["id"]), str(item["text"])) for item in items)

    def __bool__(self) -> bool:
        return bool(self.templates)

    def __len__(self) -> int:
        return len(self.templates)

    def match(self, text: str | None) -> int:
        """The id of the first template `text` matches whole, or 0."""
        if not text:
            return NO_MATCH
        for template in self.templates:
            if template.pattern.fullmatch(text):
                return template.id
        return NO_MATCH

    def describe(self) -> list[dict[str, Any]]:
        return [{"id": template.id, "text": template.text} for template in self.templates]
