# Everything runs from the project's own virtualenv (.venv), made by `make install`.
PY ?= .venv/bin/python
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: install up down demo test test-unit test-integration lint typecheck bench

install: .venv/.installed  ## the Python environment, pinned by constraints.txt

.venv/.installed: pyproject.toml constraints.txt .ci/debian-packages
	bash .ci/debian-packages
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $@

up: install  ## start Kafka and PostgreSQL, create the topics
	oms dev up
	oms topics apply

down:
	oms dev down

demo: install  ## the README's first command: services, topics, engine, projections, a simulation
	oms demo

lint: install
	ruff check src tests consumers bench
	ruff format --check src tests consumers bench
	oms schemas check  # every schema FULL compatible with schemas/released/ (Apache Avro's rules)

typecheck: install
	mypy

test-unit: install  ## fast tests, no services
	pytest -q tests/unit tests/property

test-integration: install  ## real Kafka and PostgreSQL (started by the session fixture)
	pytest -q -m "integration or fault" tests

test-cluster: install  ## the three-broker fault tests alone (also in make test; see README, Tests)
	pytest -q -m cluster tests

test: lint typecheck  ## ruff, mypy and every test
	# Two workers, a test file each at a time (every test has its own topics and schema;
	# the services start once, under a lock), the fault tests that kill our processes
	# among them; then the tests that lose a Kafka broker alone (the three-broker
	# cluster's and the broker restart), since they measure how fast everything comes
	# back. Both runs always happen; the first failure decides the exit code.
	pytest -q --durations=15 -n 2 --dist loadfile -m "not broker_loss" tests; a=$$?; \
	pytest -q --durations=15 -rP -m broker_loss tests; b=$$?; \
	if [ $$a -ne 0 ]; then exit $$a; fi; exit $$b
