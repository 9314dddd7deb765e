"""Domain errors. Each carries a Hyber error code, its text and the HTTP status to answer with.

The HTTP layer turns them into `{"error_code": N, "error_text": "..."}`; nothing here knows HTTP.
A named error takes its code and text from the built-in catalogue; `in_catalogue` re-reads
them from a backend's own catalogue (a `codes_file`), so texts never leak between backends.
"""

from __future__ import annotations

from mock_hyber.codes import Catalogue, builtin_catalogue


class HyberError(Exception):
    def __init__(
        self,
        code: int,
        text: str,
        http_status: int = 400,
        name: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.http_status = http_status
        self.name = name
        self.detail = detail

    @classmethod
    def named(cls, name: str, detail: str | None = None) -> HyberError:
        """An error from the catalogue's `request_errors`, with an optional detail appended."""
        return cls._from(builtin_catalogue(), name, detail)

    @classmethod
    def _from(cls, catalogue: Catalogue, name: str, detail: str | None) -> HyberError:
        entry = catalogue.error(name)
        text = f"{entry.text}: {detail}" if detail else entry.text
        return cls(entry.code, text, entry.http_status, name, detail)

    def in_catalogue(self, catalogue: Catalogue) -> HyberError:
        """This error as `catalogue` defines it (itself when it is not a named one)."""
        if self.name is None or catalogue is builtin_catalogue():
            return self
        try:
            return self._from(catalogue, self.name, self.detail)
        except KeyError:  # a custom file without this error keeps the built-in one
            return self

    def body(self) -> dict[str, object]:
        # The text may quote the input; a lone surrogate in it would make the body unencodable.
        text = self.text.encode("utf-8", "replace").decode("utf-8")
        return {"error_code": self.code, "error_text": text}
