# Everything a fresh clone needs: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: install demo test test-fast lint clean fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,postgres]'
	touch $(STAMP)

install: $(STAMP)

# make demo PORT=9090 ENGINE=postgres
PORT   ?= 8080
ENGINE ?= duckdb

demo: install
	$(VENV)/bin/dpsql demo --dir demo --port $(PORT) --engine $(ENGINE)

test: install
	$(PY) -m ruff check rewriter accountant proxy tests bench
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow" -x -q

# The totality properties (tests/totality) with a long random search: every accepted
# query must run on both engines over hostile values, with the same status with and
# without one hostile person. CI runs the same tests with a short derandomized search.
FUZZ_EXAMPLES ?= 5000

fuzz: install
	DPSQL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/totality -q -p no:logging \
		--hypothesis-show-statistics

lint: install
	$(PY) -m ruff check rewriter accountant proxy tests

clean:
	rm -rf $(VENV) demo .pytest_cache

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

# Qrlew (pyqrlew) brings its own pins too: bench/.venv-qrlew, rebuilt when bench/qrlew.py changes.
QRLEW := bench/.venv-qrlew/.installed-stamp

.PHONY: bench bench-quick
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

# A few minutes: every variant and target at 200,000 rows, 2 repetitions (results in
# bench/results-quick.json; README untouched).
bench-quick: install $(SNSQL) $(QRLEW)
	$(PY) -m bench.run --quick --out bench/results-quick.json $(BENCH_ARGS)
