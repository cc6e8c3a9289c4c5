# Gate Sentinel. The two commands of the quick start:
#   make demo   set up, start Kafka + ClickHouse + a worker, send entries, show the decisions
#   make test   set up, start Kafka + ClickHouse, then ruff, mypy and pytest (unit + integration)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SENTINEL := $(BIN)/sentinel

.PHONY: deps deps-test install demo test bench chaos lint stack-up stack-down clean

deps:
	@bash deploy/install-system-packages.sh

# Prometheus, Alertmanager, Chromium: what the monitoring, paging and browser tests run.
deps-test:
	@bash deploy/install-system-packages.sh --test

$(VENV)/.installed: pyproject.toml
	@echo "python: creating $(VENV) and installing the project (first run takes a minute or two)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: deps $(VENV)/.installed

stack-up: install
	$(SENTINEL) stack up
	$(SENTINEL) migrate

stack-down:
	$(SENTINEL) stack down

demo: stack-up
	$(SENTINEL) demo

# Benchmarks (not part of `make test`): BENCH_ARGS="--events 300000 --runs 5" make bench
bench: stack-up
	$(SENTINEL) bench $(BENCH_ARGS)

# The chaos suite (not part of `make test`; 31 minutes on a 2-core machine): CHAOS_ARGS="--scenario kill" make chaos
chaos: stack-up
	$(SENTINEL) chaos $(CHAOS_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: deps-test stack-up lint
	$(BIN)/pytest

clean:
	-$(SENTINEL) stack down
	rm -rf .local
