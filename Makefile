# Vagt's build glue: `make run` and `make test` work on a fresh clone with Python 3.11+ and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; pip runs again whenever pyproject.toml is newer.
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help install run test bench fuzz lint typecheck fmt clean reset

help: ## show this list
	@echo "Usage: make TARGET (PYTHON=$(PYTHON) creates $(VENV) when it is missing)"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	@# The web console's browser tests drive Debian's Chromium; installed where we may.
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get install -y -q chromium >/dev/null && echo "installed Debian's chromium"; } \
		|| test -x /usr/bin/chromium || echo "no /usr/bin/chromium: the browser tests will be skipped"
	touch $(STAMP)

install: $(STAMP) ## create .venv and install Vagt with its dev tools

run: $(STAMP) ## start Temporal, the worker and the API on this machine (data in var/)
	$(BIN)/vagt run

test: lint typecheck ## lint, type-check, then run every test
	$(BIN)/pytest

bench: $(STAMP) ## run the benchmarks on spare ports and rewrite BENCHMARKS.md
	$(BIN)/python -m bench

fuzz: $(STAMP) ## random incidents on a flaky read model, each history replayed: all six seeds (make test runs two)
	VAGT_FUZZ=1 $(BIN)/pytest tests/workflows/test_fuzz.py

lint: $(STAMP) ## ruff: lint and check formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy, strict
	$(BIN)/mypy .

fmt: $(STAMP) ## format the code and apply ruff's safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## remove caches and build output (keeps var/ and .venv)
	rm -rf .mypy_cache .ruff_cache .pytest_cache build *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

reset: ## DELETE var/: every incident, Temporal's history, users and tokens
	rm -rf var
