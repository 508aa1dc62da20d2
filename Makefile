# Tenantry: `make dev` runs the whole system here, `make test` is what CI runs.
# Every target that needs the environment installs it first (fast when nothing changed).

SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install dev test lint format bench clean distclean

install:
	@bash scripts/install.sh

dev: install
	$(BIN)/tenantry dev

# Two workers, a test file each at a time: most of a test's time is waiting on real
# servers, and every session starts its own stack on free ports (PYTEST_WORKERS=0: one).
PYTEST_WORKERS ?= 2
test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# Workflow logic only: Temporal's test server (skipped time) and dev server, activities
# mocked by name; nothing else starts. Needs the venv (`make install` once); under 2 min.
.PHONY: test-fast
test-fast:
	$(BIN)/pytest -m fast tests/fast

# ruff, mypy (strict), and the import contracts in pyproject.toml ([tool.importlinter]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# BENCH="signup pods" runs only those; results in bench/results/, table in the README.
bench: install
	$(BIN)/python -m bench $(BENCH)

# Caches and build output; the dev stack's state (.tenantry/) and the venv stay.
clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .import_linter_cache build *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# Everything `make dev` made: the venv and the local stack's state (databases, mail, keys).
distclean: clean
	rm -rf $(VENV) .tenantry
