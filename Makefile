# The two commands of the README: `make run` (server with defaults) and `make test` (all tests).
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup run test lint bench clean container-test example-test chromium dist

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: setup
	$(BIN)/mock-hyber serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: setup lint chromium
	$(BIN)/pytest -q

# The dashboard's browser tests (tests/test_ui_browser.py) drive Debian's chromium through
# Playwright: installed when missing (without it they skip, saying so).
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "test: chromium missing, running apt-get install -y chromium"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y chromium || { $$SUDO apt-get update && $$SUDO apt-get install -y chromium; }; }

container-test:
	.ci/container-test.sh

# The wheel and the sdist in dist/ (`pip install dist/mock_hyber-*.whl`). The build runs in an
# isolated environment; --no-isolation would reuse an older setuptools from the venv. An empty
# PYTHONDONTWRITEBYTECODE: setuptools otherwise warns that it skips byte-compiling.
dist: setup
	rm -rf dist
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m build --outdir dist .

# The example app's suite against the built wheel, in a fresh virtualenv (plain and -n 2).
example-test:
	PYTHON=$(PYTHON) bash .ci/example-suite.sh

# bench_staging.py drives its small requests with wrk (a Debian package): installed when missing.
bench: setup
	@command -v wrk >/dev/null 2>&1 || { echo "bench: wrk missing, running apt-get install -y wrk"; \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y wrk; }
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
