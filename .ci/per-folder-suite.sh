#!/usr/bin/env bash
# Per-folder settings, as a new user writes them (issue 13, "What it must show"): install
# mock_hyber with the README's first install line (a checkout: a fresh clone, so what is
# committed) in a fresh virtualenv, write a test project whose two folders override
# `mock_hyber_settings` in their own conftest.py (one account with single callbacks, another
# with batched ones), and run it plainly and on 2 xdist workers. Each folder's tests check the
# settings they get, so a setting that leaks from one folder into the other fails them.
# Needs python3 with venv, git (and PyPI). Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mock-hyber-folders.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
unset PYTHONPATH

git clone -q "$ROOT" "$WORK/mock_hyber"
"$PYTHON" -m venv "$WORK/venv"
echo "== pip install $WORK/mock_hyber pytest pytest-xdist"
"$WORK/venv/bin/pip" install -q --disable-pip-version-check "$WORK/mock_hyber" pytest pytest-xdist

P="$WORK/project"
mkdir -p "$P/tests/single" "$P/tests/batched"
cat > "$P/pytest.ini" <<'EOF'
[pytest]
testpaths = tests
filterwarnings = error
EOF

# Shared by both folders: send two magic numbers (both final at +1 s, SMS only) with the
# receiver as callback_url, then let 5 virtual seconds pass.
cat > "$P/tests/sending.py" <<'EOF'
def send_two(mock_hyber, callback_receiver):
    body = {
        "messages": [{"phone_number": 380000000001}, {"phone_number": 380000000005}],
        "channels": ["sms"],
        "channel_options": {"sms": {"text": "Hello", "alpha_name": "Shop", "ttl": 300}},
        "callback_url": callback_receiver.url,
    }
    mock_hyber.send_batch(body)
    mock_hyber.advance(5)
    callback_receiver.wait_for(2, timeout=10)
EOF
touch "$P/tests/__init__.py" "$P/tests/single/__init__.py" "$P/tests/batched/__init__.py"

cat > "$P/tests/single/conftest.py" <<'EOF'
import pytest
from mock_hyber import Settings

@pytest.fixture(scope="session")
def mock_hyber_settings():
    return Settings(accounts="1101:single:pw", clock_frozen=True, seed=1, callback_mode="single")
EOF
cat > "$P/tests/batched/conftest.py" <<'EOF'
import pytest
from mock_hyber import Settings

@pytest.fixture(scope="session")
def mock_hyber_settings():
    return Settings(
        accounts="2202:batched:pw", clock_frozen=True, seed=2,
        callback_mode="batched", callback_batch_period=1,
    )
EOF

# Several tests per folder, so that two workers interleave the folders.
for n in 1 2 3 4; do
    cat > "$P/tests/single/test_single_$n.py" <<'EOF'
from tests.sending import send_two

def test_one_report_per_request(mock_hyber, callback_receiver):
    assert mock_hyber.client_id == "1101"
    send_two(mock_hyber, callback_receiver)
    assert [type(r.body).__name__ for r in callback_receiver.requests] == ["dict", "dict"]
EOF
    cat > "$P/tests/batched/test_batched_$n.py" <<'EOF'
from tests.sending import send_two

def test_both_reports_in_one_request(mock_hyber, callback_receiver):
    assert mock_hyber.client_id == "2202"
    send_two(mock_hyber, callback_receiver)
    assert [type(r.body).__name__ for r in callback_receiver.requests] == ["list"]
EOF
done

cd "$P"
echo "== two folders, two settings: plain"
"$WORK/venv/bin/pytest" -q -p no:cacheprovider
echo "== two folders, two settings: on 2 xdist workers"
"$WORK/venv/bin/pytest" -q -p no:cacheprovider -n 2
