# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# TORCH picks the PyTorch build installed first. The default is the CPU build (2.13.0);
# elsewhere pass e.g. TORCH="torch==2.13.0 --index-url <your PyTorch wheel index>".
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.bat-installed

.PHONY: setup demo test test-fast test-soak test-slow lint bench ui clean browser

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Debian's Chromium drives the browser test (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Debian's chromium package (sudo apt-get install chromium) for the browser test"; fi; }

demo: setup
	$(BIN)/bat-pipeline demo

test: setup browser
	$(BIN)/pytest -m "not soak"

test-fast: setup
	$(BIN)/pytest -m "not slow"

# minutes of concurrent load on one store; prints its figures, also in test-artifacts/soak.json
test-soak: setup
	$(BIN)/pytest -m soak -s

lint: setup
	$(BIN)/ruff check bat_pipeline bat_pipeline_tests benchmarks
	$(BIN)/ruff format --check bat_pipeline bat_pipeline_tests benchmarks
	$(BIN)/sqlfluff lint sql benchmarks/sql
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python benchmarks/bench_features.py --events 1000000 10000000
	$(BIN)/python benchmarks/bench_drift.py --events 1000000 10000000
	$(BIN)/python benchmarks/bench_training.py --repeats 3
	$(BIN)/python benchmarks/bench_demo.py
	$(BIN)/python benchmarks/bench_cycle.py
	$(BIN)/python benchmarks/bench_real.py

ui: setup
	$(BIN)/bat-pipeline ui

clean:
	rm -rf .bat test-artifacts
