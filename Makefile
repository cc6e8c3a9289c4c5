# Gate Sentinel. The two commands of the quick start:
#   make demo   set up, start Kafka + ClickHouse + a worker, send entries, show the decisions
#   make test   set up, start Kafka + ClickHouse, then ruff, mypy and pytest (unit + integration)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SENTINEL := $(BIN)/sentinel

.PHONY: deps deps-test deps-cluster install demo test test-cluster bench chaos lint stack-up stack-down stack-down-cluster clean

deps:
	@bash deploy/install-system-packages.sh

# Prometheus, Alertmanager, Chromium: what the monitoring, paging and browser tests run.
deps-test:
	@bash deploy/install-system-packages.sh --test

# ZooKeeper: a replicated ClickHouse's coordinator (make test-cluster).
deps-cluster: deps
	@bash deploy/install-system-packages.sh --cluster

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

# The cluster failover test (not part of `make test`): three Kafka brokers, two ClickHouse
# replicas and a ZooKeeper, on ports apart from the single-node stack's (deploy/local-cluster.env;
# `.local/cluster`); left running afterwards, `make stack-down-cluster` stops it.
CLUSTER_ENV := set -a && . deploy/local-cluster.env && set +a
test-cluster: deps-cluster install
	$(CLUSTER_ENV) && $(SENTINEL) stack up --brokers 3 --clickhouse-replicas 2
	$(CLUSTER_ENV) && CI=true $(BIN)/pytest -m cluster -rP tests/cluster

stack-down-cluster:
	$(CLUSTER_ENV) && $(SENTINEL) stack down

clean:
	-$(SENTINEL) stack down
	-$(CLUSTER_ENV) && $(SENTINEL) stack down
	rm -rf .local
