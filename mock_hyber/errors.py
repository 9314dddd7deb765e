"""Domain errors. Each carries a Hyber error code, its text and the HTTP status to answer with.

The HTTP layer turns them into `{"error_code": N, "error_text": "..."}`; nothing here knows HTTP.
"""

from __future__ import annotations

from mock_hyber.engine.codes import default_catalogue


class HyberError(Exception):
    def __init__(self, code: int, text: str, http_status: int = 400) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.http_status = http_status

    @classmethod
    def named(cls, name: str, detail: str | None = None) -> HyberError:
        """An error from the catalogue's `request_errors`, with an optional detail appended."""
        entry = default_catalogue().error(name)
        text = f"{entry.text}: {detail}" if detail else entry.text
        return cls(entry.code, text, entry.http_status)

    def body(self) -> dict[str, object]:
        return {"error_code": self.code, "error_text": self.text}
