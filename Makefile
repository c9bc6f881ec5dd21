# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench console reliability lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip -c constraints.txt

# constraints.txt pins every package to the versions CI tested; `make lock` refreshes it.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]' -c constraints.txt
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

# Every test, the few marked slow included (about 3.5 minutes in all on two busy cores;
# `pytest -m "not slow"` leaves out those four, about a minute, while iterating).
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

# Resolve pyproject.toml anew in a scratch virtualenv and pin the result in constraints.txt.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[dev]'
	{ sed -n '1,2p' constraints.txt; .venv-lock/bin/python -m pip freeze --all --exclude-editable | grep -v '^setuptools=='; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
