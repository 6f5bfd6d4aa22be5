# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv with Python 3.11 and install pano with the CPU torch wheel pinned.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH_PIN := torch==2.13.0
DEMO_OUT ?= pano-demo

.PHONY: setup demo test lint

$(BIN)/pano: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q -e ".[dev,dashboard]"
	touch $(BIN)/pano

setup: $(BIN)/pano

demo: setup
	$(BIN)/pano demo --out $(DEMO_OUT)

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check pano stores pipelines cli tests benchmarks
	$(BIN)/mypy pano stores pipelines cli
