# imgexp: `make demo` sets up and runs the default experiment; `make test` sets up and tests;
# `make test-fast` is the edit loop (no subprocess, no server).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: help demo test test-fast lint format ui clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# setuptools announces every editable install of a flat layout (information only, no fault).
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install --quiet -e '.[dev,sweep,optuna,slurm]'
	touch $@

demo: $(BIN)/.installed  ## set up, then train the default experiment (offline) into MLflow
	$(BIN)/imgexp $(ARGS)

test: $(BIN)/.installed  ## set up, lint, then run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 2  # two workers: the subprocess tests mostly wait on imports

test-fast: $(BIN)/.installed  ## the edit loop: tests not marked slow (no subprocess), < 2 min
	$(BIN)/pytest -m "not slow" -n 2 -p no:cacheprovider $(ARGS)

lint: $(BIN)/.installed  ## ruff check
	$(BIN)/ruff check .

format: $(BIN)/.installed  ## ruff format + autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: $(BIN)/.installed  ## open the MLflow UI on the default store (127.0.0.1:5000)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$${IMGEXP_HOME:-$$HOME/.imgexp}/mlflow.db --host 127.0.0.1 --port 5000

clean:  ## remove the virtual environment and caches (never your MLflow store)
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
