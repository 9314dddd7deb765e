#!/usr/bin/env bash
# The example app's suite (examples/notifier) as a new user runs it: build mock_hyber's wheel,
# install it with the example's test requirements in a fresh virtualenv (no editable install,
# nothing from the work tree on the path), then run the suite plainly and on 2 xdist workers.
# Needs only python3 with venv (and PyPI). Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mock-hyber-example.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "== building the mock_hyber wheel (in $WORK)"
# Build from a copy, so the build leaves nothing (build/, *.egg-info) in the work tree.
mkdir -p "$WORK/src"
cp -R "$ROOT/pyproject.toml" "$ROOT/README.md" "$ROOT/mock_hyber" "$WORK/src/"
for extra in LICENSE LICENSE.txt LICENSE.md MANIFEST.in; do
    if [ -e "$ROOT/$extra" ]; then cp "$ROOT/$extra" "$WORK/src/"; fi
done
find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +

"$PYTHON" -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
"$PY" -m pip wheel -q --disable-pip-version-check --no-deps -w "$WORK/dist" "$WORK/src"
WHEEL="$(ls "$WORK"/dist/mock_hyber-*.whl)"
echo "== installing $(basename "$WHEEL") and the example's test requirements"
"$PY" -m pip install -q --disable-pip-version-check "$WHEEL" \
    -r "$ROOT/examples/notifier/requirements-test.txt"

cp -R "$ROOT/examples/notifier" "$WORK/notifier"
find "$WORK/notifier" -name __pycache__ -prune -exec rm -rf {} +
cd "$WORK/notifier"
unset PYTHONPATH
# The suite must test the installed wheel, not the sources of the work tree.
"$PY" - "$ROOT" <<'PYCHECK'
import sys
from importlib.metadata import entry_points

import mock_hyber

root = sys.argv[1]
assert not mock_hyber.__file__.startswith(root), f"mock_hyber imported from {mock_hyber.__file__}"
plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
assert plugins.get("mock_hyber") == "mock_hyber.testing.plugin", plugins
print(f"mock_hyber {mock_hyber.__version__} from {mock_hyber.__file__}")
PYCHECK

"$WORK/venv/bin/mock-hyber" --version
echo "== example suite"
"$WORK/venv/bin/pytest" -q -p no:cacheprovider
echo "== example suite on 2 xdist workers"
"$WORK/venv/bin/pytest" -q -p no:cacheprovider -n 2
