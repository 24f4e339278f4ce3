# Two commands do everything: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-sqlite test-postgres lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: sentence-transformers then finds it satisfied (plain `torch` is a CUDA build of several GB).
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/koppelkans db upgrade
	$(BIN)/koppelkans seed
	$(BIN)/koppelkans reindex
	$(BIN)/koppelkans users ensure-admin
	@echo "Koppelkans serves on http://$(HOST):$(PORT): web interface /ui/, API documentation /docs"
	$(BIN)/koppelkans serve --host $(HOST) --port $(PORT)

# Layout, accessibility and render-size checks read the same pages on either database: once is enough.
LAYOUT_ONLY = --ignore=tests/web/test_every_page.py --ignore=tests/web/test_board_scale.py \
	--ignore=tests/web/test_render_times.py

# Test files are spread over one process per core (pytest-xdist; TEST_WORKERS=1 runs them in
# one process). A file's tests stay together, so module fixtures are made once.
TEST_WORKERS ?= auto
PARALLEL = -n $(TEST_WORKERS) --dist loadfile

# The whole suite on SQLite; then, when KOPPELKANS_TEST_POSTGRES_URL is set (.ci/run sets it),
# everything that touches the database again on PostgreSQL. tests/test_pgvector.py runs the
# pgvector vector store against that server (scripts/start-postgres.sh starts one with pgvector).
test: install
	./scripts/install-browser.sh && $(BIN)/python -m pytest $(PARALLEL)
	@if [ -n "$$KOPPELKANS_TEST_POSTGRES_URL" ]; then \
		echo "--- the database tests again, on PostgreSQL"; \
		KOPPELKANS_DATABASE_URL="$$KOPPELKANS_TEST_POSTGRES_URL" $(BIN)/python -m pytest $(PARALLEL) -m "not sqlite_only" --ignore=tests/matching $(LAYOUT_ONLY); \
	else \
		echo "(KOPPELKANS_TEST_POSTGRES_URL not set: PostgreSQL pass skipped; .ci/run sets it)"; \
	fi

lint: install
	$(BIN)/ruff check app tests scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data

# The benchmark (a script, not a test): `make bench` runs 1k, 10k and 100k companies (long);
# BENCH_ARGS="--scales 1000,10000 --quick" for a first look. Results: bench-results/latest.json, and
# their table in docs/performance.md (scripts/perf_table.py writes it there).
BENCH_ARGS ?=
.PHONY: bench
bench: install
	./scripts/install-package.sh wrk /usr/bin/wrk "the HTTP benchmark's load (a Python client otherwise)"
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

# Larger load and fuzzing runs than `make test` (loopback only, bounded): 50 clients, 3000 requests,
# then the crash and load tests and the fuzzing with more examples per operation.
.PHONY: stress
stress: install
	$(BIN)/python scripts/stress.py --clients 50 --requests 3000
	KOPPELKANS_STRESS_REQUESTS=1500 KOPPELKANS_CRASH_REGISTRATIONS=80 KOPPELKANS_FUZZ_EXAMPLES=50 \
		KOPPELKANS_FUZZ_COVERAGE_SHARE_ADMIN=1 KOPPELKANS_FUZZ_COVERAGE_SHARE=1 \
		$(BIN)/python -m pytest tests/reliability tests/security/test_fuzzing.py
