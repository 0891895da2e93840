# yurt: the seed's workflow (make up, make job-run, ...) and the developer targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
YURT := $(BIN)/yurt
STAMP := $(VENV)/.installed

.PHONY: venv deps test lint typecheck up stop

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip >/dev/null
	@$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy src/

test: $(STAMP) deps lint typecheck
	$(BIN)/pytest -q

up: $(STAMP) deps
	$(YURT) catalog -data-dir .yurt/catalog
