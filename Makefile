# Gate Sentinel. The two commands of the quick start:
#   make demo   set up, start Kafka + ClickHouse + a worker, send entries, show the decisions
#   make test   set up, start Kafka + ClickHouse, then ruff, mypy and pytest (unit + integration)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SENTINEL := $(BIN)/sentinel

.PHONY: deps deps-test deps-cluster install demo test test-unit test-cluster bench chaos mutation lint stack-up stack-down stack-down-cluster clean

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

# Mutation testing of the pure core (not part of `make test`; about 25 minutes on a 2-core
# machine the first time, then only what changed): mutmut in a venv of its own layered on the
# project's, since mutmut 3.8 needs click >= 8.4.2 and faust-streaming pins click < 8.4 (mutmut
# 3.7, the last to allow it, fails on pytest 9). Scores per module: docs/testing.md.
MUTATION_VENV := .venv-mutation
MUTMUT := mutmut==3.8.1
$(MUTATION_VENV)/.installed: $(VENV)/.installed
	@echo "mutation: $(MUTATION_VENV) with $(MUTMUT), on top of $(VENV)'s packages (pip will say"
	@echo "mutation: faust-streaming wants click < 8.4: expected, faust is not used there)"
	$(PYTHON) -m venv $(MUTATION_VENV)
	$(BIN)/python -c "import sysconfig; print('import site; site.addsitedir(%r)' % sysconfig.get_paths()['purelib'])" \
		> "$$($(MUTATION_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/gate-sentinel.pth"
	$(MUTATION_VENV)/bin/pip install --quiet '$(MUTMUT)'
	@touch $@

mutation: $(MUTATION_VENV)/.installed
	$(MUTATION_VENV)/bin/python -m workbench.mutation $(MUTATION_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: deps-test stack-up lint
	$(BIN)/pytest

# The unit tests alone, no services (promtool and amtool from deps-test: the monitoring tests).
test-unit: deps-test install
	$(BIN)/pytest tests/unit

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
	rm -rf .local mutants
