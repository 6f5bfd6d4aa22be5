# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv with Python 3.11 and install pano with the CPU torch wheel pinned.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH_PIN := torch==2.13.0
DEMO_OUT ?= pano-demo
# mypy checks a link tree with the installed layout (see `lint`); git-ignored under build/.
TYPECHECK := build/typecheck

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: setup demo test lint typecheck-tree

$(BIN)/pano: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q -e ".[dev,dashboard]" "$(TORCH_PIN)"
	touch $(BIN)/pano

setup: $(BIN)/pano

demo: setup
	$(BIN)/pano demo --out $(DEMO_OUT) --overwrite

test: setup
	$(BIN)/pytest

# The folders stores/, pipelines/, cli/ install as pano.stores, pano.pipelines, pano.cli
# (package-dir), which mypy cannot follow through the editable install's import hook. So
# mypy checks build/typecheck/pano/: a symlink to every entry of pano/ plus stores,
# pipelines and cli linked as pano/stores, pano/pipelines, pano/cli - the installed
# layout, so every cross-layer call is type-checked. Rebuilt on every run (new modules
# appear); paths in mypy's messages are mapped back to the real folders.
typecheck-tree:
	@rm -rf $(TYPECHECK)/pano && mkdir -p $(TYPECHECK)/pano
	@for e in pano/*; do \
	  [ "$${e##*/}" = __pycache__ ] || ln -s "$(CURDIR)/$$e" "$(TYPECHECK)/pano/$${e##*/}"; \
	done
	@for p in stores pipelines cli; do ln -s "$(CURDIR)/$$p" "$(TYPECHECK)/pano/$$p"; done

lint: setup typecheck-tree
	$(BIN)/ruff check pano stores pipelines cli tests benchmarks
	cd $(TYPECHECK) && $(abspath $(BIN))/mypy --config-file "$(CURDIR)/pyproject.toml" \
	  --cache-dir "$(CURDIR)/.mypy_cache" -p pano \
	  | sed -E 's#^pano/(stores|pipelines|cli)/#\1/#'
