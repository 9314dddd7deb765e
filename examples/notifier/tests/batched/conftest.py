"""This folder's settings: reports in batches. The override applies to the tests under this
folder only; the rest of the suite keeps the plugin's defaults (one report per POST)."""

from __future__ import annotations

import pytest

from mock_hyber import Settings


@pytest.fixture(scope="session")
def mock_hyber_settings() -> Settings:
    return Settings(
        seed=1234,
        clock_frozen=True,
        callback_mode="batched",
        callback_batch_period=5,
        log_level="warning",
    )
