# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench console reliability clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/attache run

console: $(STAMP)
	$(BIN)/attache console

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

# Every benchmark at full size (about half an hour on two cores); each prints a table and
# writes JSON to bench/out/. Not part of `make test`.
bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.normalize
	$(BIN)/python -m bench.extract
	$(BIN)/python -m bench.roundtrip
	$(BIN)/python -m bench.digest

# The reliability suite in full (kills, faults, fuzzing, access control, load); `make test`
# runs its short version. Prints the table and writes bench/out/reliability.json.
reliability: $(STAMP)
	ATTACHE_RELIABILITY=full $(BIN)/python -m tests.reliability.report

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
