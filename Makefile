# Everything runs from a local .venv; `make demo` and `make test` set it up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed

.PHONY: setup browser demo test test-fast ui lint bench bench-pipeline clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The demo extra (localstripe, the local payment provider) comes with dev; stated here too.
$(DEMO_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/vigil demo

# The browser tests drive Debian's chromium through Playwright (which never downloads one
# here); pdftotext reads the invoice PDFs. Both come from apt when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 || \
		($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium poppler-utils)

# The suite on pytest-xdist workers, each with its own VIGIL_HOME (so its own embedded
# PostgreSQL server and Dagster instance) and dbt target folder (tests/conftest.py); a module
# stays on one worker (its module fixtures are built once), the longest modules first (the
# order tests/conftest.py gives from the last run's durations, kept by --no-loadscope-reorder).
# pytest exits non-zero when it collects no test, and so does make.
TEST_WORKERS ?= 3
test: setup browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The unit tier: everything that needs no PostgreSQL (no `warehouse` fixture, not marked
# integration or e2e); starting the database there fails the test that tried.
test-fast: setup
	VIGIL_TEST_TIER=unit $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not integration and not e2e"

ui: setup
	$(BIN)/vigil ui

lint: setup
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint dbt_project/models
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python benchmarks/bench_rating.py

# About half an hour on 2 cores: a cold range and one more day after 30 and 365 days (S), and
# an L-scale day (docs/performance.md, "Pipeline"). Others: BENCH_ARGS="--runs M:30,M:365,L:30".
bench-pipeline: setup
	$(BIN)/python benchmarks/bench_pipeline.py $(BENCH_ARGS)

clean:
	rm -rf .vigil dbt_project/target dbt_project/logs
