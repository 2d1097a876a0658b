# Everything a fresh clone needs: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: install demo test test-fast test-spark lint clean fuzz screenshots chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,postgres,spark]'
	touch $(STAMP)

install: $(STAMP)

# The dashboard's browser tests (tests/ui) drive Debian's Chromium through Playwright's
# pip package; Playwright's own browser download is never used.
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

chromium: $(CHROMIUM)

# make demo PORT=9090 ENGINE=postgres
PORT   ?= 8080
ENGINE ?= duckdb

demo: install
	$(VENV)/bin/dpsql demo --dir demo --port $(PORT) --engine $(ENGINE)

# one pytest worker per core (pytest-xdist); WORKERS=0 runs in this process
WORKERS ?= auto

# What ruff lints, and the packages mypy type-checks ([tool.mypy] in pyproject.toml): a
# package joins MYPY_PACKAGES once it passes
RUFF_PATHS    := dpsql rewriter accountant proxy tests bench
MYPY_PACKAGES := dpsql rewriter accountant proxy

test: lint $(CHROMIUM)
	$(PY) -m pytest -n $(WORKERS)

# The whole Spark engine suite on local mode (make test runs a cross-section of it): every
# listed e2e module on Spark, the long totality search on Spark and the status parity
# property on Spark. One JVM per test process.
test-spark: install
	DPSQL_SPARK_FULL=1 $(PY) -m pytest -n $(WORKERS) tests/spark \
		tests/engines/test_engine_contract.py tests/totality -k spark -q

test-fast: install $(CHROMIUM)
	$(PY) -m pytest -m "not slow" -x -q

# The totality properties (tests/totality) with a long random search: every accepted
# query must run on both engines over hostile values, with the same status with and
# without one hostile person. CI runs the same tests with a short derandomized search.
FUZZ_EXAMPLES ?= 5000

fuzz: install
	DPSQL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/totality -q -p no:logging \
		--hypothesis-show-statistics

# One PNG per role's page of the dashboard (docs/screenshots/*.png, shown in README.md),
# taken on a small demo deployment served on a free port.
screenshots: install $(CHROMIUM)
	$(PY) -m tests.ui.screenshots docs/screenshots

lint: install
	$(PY) -m ruff check $(RUFF_PATHS)
	$(PY) -m mypy $(MYPY_PACKAGES)

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache

# Benchmarks (bench/README.md). SmartNoise SQL lives in its own virtualenv, as it
# pins an older OpenDP; if it cannot be installed the bench runs without it.
# The stamp is rebuilt when bench/smartnoise.py (which lists the packages) changes.
SNSQL := bench/.venv-snsql/.installed-stamp
BENCH_ARGS ?=
UTILITY_ARGS ?=
# the guards' cost (issue #17) is stated against the rewrite of this commit
GUARDS_BASELINE ?= 9ff5629
GUARDS_ARGS ?=
LEDGER_ARGS ?=

# Spark local mode against DuckDB on 10 M rows of Parquet, and N = 1, 2, 4 proxies in
# front of one Spark Connect server sharing a PostgreSQL ledger (bench/spark.json)
SPARK_BENCH_ARGS ?=

.PHONY: bench bench-spark bench-quick
bench-spark: install
	$(PY) -m bench.spark $(SPARK_BENCH_ARGS)

# Qrlew (pyqrlew) brings its own pins too: bench/.venv-qrlew, rebuilt when bench/qrlew.py changes.
QRLEW := bench/.venv-qrlew/.installed-stamp

$(SNSQL): bench/smartnoise.py
	-$(PY) -m bench.smartnoise --install

$(QRLEW): bench/qrlew.py
	-$(PY) -m bench.qrlew --install

# `make bench` prints each target of issue #25 next to its figure and rewrites the
# README's benchmark table from the run (bench/report.py).
bench: install $(SNSQL) $(QRLEW)
	$(PY) -m bench.run $(BENCH_ARGS)
	$(PY) -m bench.report --readme README.md
	$(PY) -m bench.utility $(UTILITY_ARGS)
	$(PY) -m bench.guards --baseline $(GUARDS_BASELINE) $(GUARDS_ARGS)
	$(PY) -m bench.ledger_startup $(LEDGER_ARGS)
	$(PY) -m bench.seven_keys

# A few minutes: every variant and target at 200,000 rows, 2 repetitions (results in
# bench/results-quick.json; README untouched).
bench-quick: install $(SNSQL) $(QRLEW)
	$(PY) -m bench.run --quick --out bench/results-quick.json $(BENCH_ARGS)
