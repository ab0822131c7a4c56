# Build and test entry points. `make test` is the one command the README gives: on a machine with
# only Python 3.11 (or python3), make and git, it installs everything it needs and runs lint plus
# the whole test suite on Airflow 3 and on Airflow 2.11.
#
#   make test      lint, then pytest on Airflow 3, then on Airflow 2.11; fails if any step fails
#   make lint      ruff check, ruff format --check and mypy (Airflow 3 venv)
#   make test-af3  pytest on Airflow 3     (PYTEST_ARGS="-k smoke -x" to narrow it down)
#   make test-af2  pytest on Airflow 2.11
#   make docs      build the Sphinx site strictly (-W -n) into docs/_build/html
#   make dist      build the provider's and the emulator's sdists and wheels into dist/ and check
#                  them (twine check --strict, LICENSE/py.typed/entry point, no tests)
#   make test-floors  the built wheels on the oldest supported versions (Airflow 2.11.0 and the
#                  floor providers, requirements/floors.txt), the suite less what does not depend on them
#   make mutants   break critical behaviours one at a time (scripts/mutants.py); not in `make test`
#   make bench     the benchmarks (python -m benchmarks); bench-quick for a ~2 min run
#   make demo      the real pipeline locally: emulator + local S3, the example DAG for three days
#   make venv      create or refresh .venv-af3 and .venv-af2 (a no-op when the pins did not change)
#   make pins      recompile requirements/*.txt from requirements/*.in and pyproject.toml
#   make format    apply ruff's fixes and formatting
#   make clean     remove the venvs and caches

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
export PYTHON

VENV_AF3 := .venv-af3
VENV_AF2 := .venv-af2
PINS_AF3 := requirements/airflow3.txt
PINS_AF2 := requirements/airflow2.txt
PYTEST_ARGS ?=
PYTEST := -m pytest -ra --durations=10 $(PYTEST_ARGS)
# s3rver, the second S3 server of the tests, pinned by tests/s3rver/package-lock.json.
S3RVER := tests/s3rver/node_modules/.package-lock.json
# The vendor's Node.js example, run against the emulator; pinned by tests/vendor_node/package-lock.json.
VENDOR_NODE := tests/vendor_node/node_modules/.package-lock.json

.PHONY: mutants dist test-floors test bench bench-quick demo docs lint test-af3 test-af2 venv venv-af3 venv-af2 pins format clean

# Run every step even when an earlier one fails, so one CI run reports everything; then fail if
# any step failed.
test:
	@failed=(); \
	$(MAKE) --no-print-directory lint || failed+=(lint); \
	$(MAKE) --no-print-directory test-af3 || failed+=(test-af3); \
	$(MAKE) --no-print-directory test-af2 || failed+=(test-af2); \
	$(MAKE) --no-print-directory docs || failed+=(docs); \
	$(MAKE) --no-print-directory test-floors || failed+=(test-floors); \
	if [ $${#failed[@]} -ne 0 ]; then echo ">> make test: FAILED: $${failed[*]}"; exit 1; fi; \
	echo ">> make test: lint, Airflow 3, Airflow 2.11, the strict docs build and the floors all passed"

docs:
	@scripts/build-docs.sh

$(S3RVER): tests/s3rver/package.json tests/s3rver/package-lock.json
	npm ci --prefix tests/s3rver --no-audit --no-fund --loglevel=error

$(VENDOR_NODE): tests/vendor_node/package.json tests/vendor_node/package-lock.json
	npm ci --prefix tests/vendor_node --no-audit --no-fund --loglevel=error

dist:
	@scripts/build-dist.sh

# Builds and checks dist/ itself (scripts/build-dist.sh) before installing the wheels.
test-floors: $(S3RVER) $(VENDOR_NODE)
	@scripts/test-floors.sh $(PYTEST_ARGS)

# MUTANTS="id ..." to run only some; see `python scripts/mutants.py --list`.
mutants: venv-af3 $(S3RVER)
	@$(VENV_AF3)/bin/python scripts/mutants.py --rst $(MUTANTS)

bench: venv-af3 $(S3RVER)
	@$(VENV_AF3)/bin/python -m benchmarks

bench-quick: venv-af3
	@$(VENV_AF3)/bin/python -m benchmarks --quick

demo: venv-af3
	@$(VENV_AF3)/bin/python scripts/demo.py

venv: venv-af3 venv-af2

venv-af3:
	@scripts/venv.sh $(VENV_AF3) $(PINS_AF3)

venv-af2:
	@scripts/venv.sh $(VENV_AF2) $(PINS_AF2)

lint: venv-af3
	@echo ">> lint: ruff check, ruff format --check, mypy"
	@failed=0; \
	$(VENV_AF3)/bin/ruff check . || failed=1; \
	$(VENV_AF3)/bin/ruff format --check . || failed=1; \
	$(VENV_AF3)/bin/mypy || failed=1; \
	$(VENV_AF3)/bin/mypy tests/harness tests/conftest.py benchmarks || failed=1; \
	exit $$failed

test-af3: venv-af3 $(S3RVER) $(VENDOR_NODE)
	@echo ">> pytest on Airflow $$($(VENV_AF3)/bin/python -c 'import importlib.metadata as m; print(m.version("apache-airflow"))')"
	$(VENV_AF3)/bin/python $(PYTEST)

test-af2: venv-af2 $(S3RVER) $(VENDOR_NODE)
	@echo ">> pytest on Airflow $$($(VENV_AF2)/bin/python -c 'import importlib.metadata as m; print(m.version("apache-airflow"))')"
	$(VENV_AF2)/bin/python $(PYTEST)

pins:
	@scripts/compile-pins.sh

format: venv-af3
	$(VENV_AF3)/bin/ruff check --fix .
	$(VENV_AF3)/bin/ruff format .

clean:
	rm -rf $(VENV_AF3) $(VENV_AF2) .venv-floors dist .venv-tools .pytest_cache .mypy_cache .ruff_cache
