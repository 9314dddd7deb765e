"""The layer contracts (import-linter, in `make lint`) and what importing the package loads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "mock_hyber", tmp_path / "mock_hyber")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_are_kept(project_copy: Path) -> None:
    result = _lint_imports(project_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("model.py", "mock_hyber.engine.clock"),  # the bottom reaching into the engine
        ("engine/plan.py", "mock_hyber.store.memory"),
        ("store/memory.py", "mock_hyber.state"),
        ("callbacks/outbox.py", "mock_hyber.service.inspect"),
        ("state.py", "mock_hyber.loops.runner"),
        ("service/accept.py", "mock_hyber.api.errors"),
        ("engine/clock.py", "mock_hyber.testing.client"),
    ],
)
def test_an_upward_import_breaks_the_contract(project_copy: Path, module: str, upward: str) -> None:
    path = project_copy / "mock_hyber" / module
    path.write_text(path.read_text() + f"\nimport {upward}  # deliberately upward\n")
    result = _lint_imports(project_copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert upward in result.stdout


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(out.split())


def test_importing_the_package_loads_neither_the_server_nor_the_test_tools() -> None:
    loaded = _modules_loaded_by("import mock_hyber")
    assert "mock_hyber.testing" not in loaded
    assert "fastapi" not in loaded
    assert "mock_hyber.app" not in loaded


def test_importing_the_clock_does_not_load_the_test_client() -> None:
    loaded = _modules_loaded_by("import mock_hyber.engine.clock")
    assert not any(name.startswith("mock_hyber.testing") for name in loaded)


def test_the_lazy_names_still_resolve() -> None:
    import mock_hyber

    assert mock_hyber.MockHyberClient.__name__ == "MockHyberClient"
    assert mock_hyber.LiveServer.__name__ == "LiveServer"
