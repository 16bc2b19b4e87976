# Two entry points (see README): `make run` and `make test`.
# Each creates .venv and installs moderncnn into it when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/moderncnn compare

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks hubconf.py
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks hubconf.py
	$(BIN)/ruff format --check src tests benchmarks hubconf.py

clean:
	rm -rf $(VENV) build src/*.egg-info
