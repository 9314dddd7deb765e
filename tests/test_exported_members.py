"""The public API is what `__all__` says, and every name in it exists (as httpx guards it)."""

from __future__ import annotations

import subprocess
import sys
import types

import mock_hyber
import mock_hyber.testing


def public_members(package: types.ModuleType) -> list[str]:
    """Names defined in a package's namespace, less private names and submodules (names that
    load lazily are loaded first)."""
    for name in package.__all__:
        getattr(package, name)
    return sorted(
        name
        for name, value in vars(package).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, types.ModuleType)
    )


def test_all_lists_every_public_member() -> None:
    assert mock_hyber.__all__ == public_members(mock_hyber)
    assert mock_hyber.testing.__all__ == public_members(mock_hyber.testing)


def test_every_name_in_all_exists() -> None:
    for package in (mock_hyber, mock_hyber.testing):
        for name in package.__all__:
            assert getattr(package, name) is not None, f"{package.__name__}.{name}"


def test_testing_all_is_sorted_and_exact() -> None:
    assert sorted(mock_hyber.testing.__all__) == mock_hyber.testing.__all__
    assert set(mock_hyber.testing.__all__) == {
        "Acceptance",
        "AccountSettings",
        "ApiFault",
        "AsyncMockHyberClient",
        "CallbackAttempt",
        "CallbackDelivery",
        "CallbackFaults",
        "CallbackReceiver",
        "CallbackReceiverError",
        "Clock",
        "DelayFault",
        "Faults",
        "Health",
        "JobInfo",
        "LiveServer",
        "MagicNumber",
        "MessageInfo",
        "MockHyberClient",
        "MockHyberError",
        "MockHyberTimeout",
        "Plan",
        "PlanMoment",
        "ReceivedRequest",
        "ReorderFault",
        "Scenarios",
    }


def test_the_testing_names_are_the_same_objects() -> None:
    for name in set(mock_hyber.__all__) & set(mock_hyber.testing.__all__):
        assert getattr(mock_hyber, name) is getattr(mock_hyber.testing, name)


def test_importing_the_package_does_not_import_pytest() -> None:
    code = "import sys, mock_hyber, mock_hyber.testing; print('pytest' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"


def test_importing_the_package_does_not_load_the_server() -> None:
    code = "import sys, mock_hyber, mock_hyber.testing.plugin; print('fastapi' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"
