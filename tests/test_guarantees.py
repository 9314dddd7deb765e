"""The README's Guarantees section names tests that exist: a promise never outlives its test."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_guarantee_names_existing_tests() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Guarantees\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "::" in line]
    assert len(rows) >= 15
    for row in rows:
        references = re.findall(r"`(test_\w+\.py)::(test_\w+)`", row)
        assert references, row
        for file, test in references:
            source = (ROOT / "tests" / file).read_text(encoding="utf-8")
            assert f"def {test}(" in source, f"{file}::{test}"
