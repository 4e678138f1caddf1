# Two commands do all the set-up: `make run` and `make test`.
# Everything they need is installed here, into .venv and node_modules.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps

.PHONY: run test lint typecheck pytest setup bench clean

run: setup
	@$(BIN)/python -m scripts.run

test: setup lint typecheck pytest

setup: $(STAMPS)/python $(STAMPS)/node

$(STAMPS)/python: requirements.txt requirements-dev.txt
	@mkdir -p $(STAMPS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(STAMPS)/node: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint:
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m bench.delivery_throughput

clean:
	rm -rf $(VENV) node_modules $(STAMPS) .azurite .mypy_cache .ruff_cache .pytest_cache
