# clausewatch: `make run` archives every registered document once (offline: loads the bundled
# sample of real history), then serves the site at http://127.0.0.1:8000/; `make test` runs all tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test demo lint typecheck bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/clausewatch run
	$(BIN)/clausewatch up

demo: $(STAMP)
	$(BIN)/clausewatch import examples/ota-sample.jsonl.xz
	$(BIN)/clausewatch analyse
	$(BIN)/clausewatch documents list
	$(BIN)/clausewatch analysis types
	$(BIN)/clausewatch verify

test: $(STAMP)
	$(BIN)/pytest -n auto -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/extraction_fidelity.py
	$(BIN)/python bench/import_history.py
	$(BIN)/python bench/capture_cycle.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
