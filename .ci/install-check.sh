#!/usr/bin/env bash
# The README's install lines, as a new user runs them: each line of the first code block of the
# README's "Install" section, with /path/to/mock_hyber replaced by a fresh clone, in its own
# fresh virtualenv. Each must print no setuptools warning (the SPDX license, the byte-compile
# note) and leave a `mock-hyber` whose --version is the package's. A clone, as a user's checkout
# and as `git+file://` see it: this checks what is committed, not uncommitted edits.
# Needs python3 with venv, git, make (and PyPI). Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mock-hyber-install.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# setuptools says "byte-compiling is disabled" when this is set (as in some CI images).
unset PYTHONDONTWRITEBYTECODE PYTHONPATH

VERSION="$("$PYTHON" -c 'import re, sys; print(re.search(r"__version__ = \"(.+)\"", open(sys.argv[1]).read())[1])' "$ROOT/mock_hyber/version.py")"

# The first ```bash block after "## Install": its lines, minus comments and `mock-hyber` itself.
mapfile -t LINES < <(awk '
    /^## Install$/ { section = 1; next }
    section && /^## / { exit }
    section && /^```bash$/ { block = 1; next }
    block && /^```$/ { exit }
    block { sub(/[[:space:]]+#.*$/, ""); if ($0 !~ /^mock-hyber/ && $0 != "") print }
' "$ROOT/README.md")
[ "${#LINES[@]}" -ge 3 ] || { echo "install-check: found ${#LINES[@]} install lines in README.md"; exit 1; }

for i in "${!LINES[@]}"; do
    CHECKOUT="$WORK/run-$i/mock_hyber"
    VENV="$WORK/run-$i/venv"
    git clone -q "$ROOT" "$CHECKOUT"
    "$PYTHON" -m venv "$VENV"
    LINE="${LINES[$i]//\/path\/to\/mock_hyber/$CHECKOUT}"
    echo "== $LINE"
    # The line's `pip` and `python3` are the fresh virtualenv's.
    if ! (cd "$WORK/run-$i" && PATH="$VENV/bin:$PATH" PIP_DISABLE_PIP_VERSION_CHECK=1 \
            bash -euo pipefail -c "$LINE") > "$WORK/run-$i/log" 2>&1; then
        cat "$WORK/run-$i/log"
        echo "install-check: the line failed"
        exit 1
    fi
    # Warning classes (BuildBackendWarning, SetuptoolsDeprecationWarning...), and setuptools'
    # lower-case "warning:" lines; the editable install of `make dist`'s dev setup is only a note.
    if grep -E '[A-Za-z]Warning\b|^warning: ' "$WORK/run-$i/log" | grep -v 'Editable installation'; then
        echo "install-check: the build printed warnings (above)"
        exit 1
    fi
    GOT="$("$VENV/bin/mock-hyber" --version)"
    [ "$GOT" = "mock-hyber $VERSION" ] || { echo "install-check: --version said '$GOT'"; exit 1; }
    echo "   $GOT, no warnings"
done
