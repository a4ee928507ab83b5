# Canalis: `make demo` sets up and runs the full sync on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/dagster_home
export CANALIS_HOME ?= $(CURDIR)/dagster_home

.PHONY: demo test ui setup lint format bench docs clean prod-up prod-down prod-status

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=77" wheel
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/canalis run full_sync
	$(BIN)/canalis run publish

test: $(STAMP)
	$(BIN)/python -m pytest -n 4 --dist loadgroup -q

# the production profile on this machine (deploy/, README "Deployment"): PostgreSQL-backed Dagster, Celery workers
prod-up: $(STAMP)
	$(BIN)/canalis deploy local up

prod-down:
	$(BIN)/canalis deploy local down

prod-status:
	$(BIN)/canalis deploy local status

ui: $(STAMP)
	$(BIN)/canalis ui

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(STAMP)
	$(BIN)/canalis connectors settings --update-readme README.md
	$(BIN)/canalis connectors settings --env-example > dagster_home/.env.example

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"  # dlt, compared with in the ingest and HubSpot benchmarks
	$(BIN)/python -m benchmarks

clean:
	rm -rf dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/canalis.db* dagster_home/.telemetry dagster_home/logs dagster_home/sandbox dagster_home/kpis
