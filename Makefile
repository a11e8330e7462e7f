# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv and install the project with its dev extras first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

CONFIG ?= data/dendray.yaml

run: $(STAMP)
	test -f $(CONFIG) || $(BIN)/dendray init --config $(CONFIG) --open-registration
	$(BIN)/dendray run --config $(CONFIG)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# Side by side with Synapse (installed from PyPI into /tmp/synapse-fed-venv on
# first use); BENCH_SCALE=small for a quick run. Results: bench/results/.
bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python -m bench.harness

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV)
