# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint system-deps template bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# LibreOffice renders workbooks in the tests; installed from Debian's packages when missing.
system-deps:
	@if ! command -v soffice >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing LibreOffice Calc and poppler (Debian packages)..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      libreoffice-calc poppler-utils >/dev/null; \
	  else \
	    echo "LibreOffice (soffice) not found: its rendering tests will be skipped."; \
	  fi; \
	fi

demo: $(STAMP)
	$(BIN)/xl-rebalancer demo demo

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

template: $(STAMP)
	$(BIN)/xl-rebalancer build-template

bench: $(STAMP)
	$(BIN)/python benchmarks/rebalance_bench.py
	$(BIN)/python benchmarks/strategies_bench.py
	$(BIN)/python benchmarks/batch_bench.py

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache
