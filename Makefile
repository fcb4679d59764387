# `make demo` and `make test` work on a fresh machine with Python >= 3.10 (3.11 preferred).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
DEMO_RUN := runs/demo

.PHONY: install install-dev demo test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $@

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	touch $@

demo: install
	rm -rf $(DEMO_RUN)
	$(BIN)/fugato data build essen:europe
	$(BIN)/fugato train configs/melody-lm-quick.toml --run-dir $(DEMO_RUN)
	$(BIN)/fugato sample $(DEMO_RUN) -n 8 --out $(DEMO_RUN)/samples
	$(BIN)/fugato eval $(DEMO_RUN)
	@echo
	@echo "MIDI samples: $(DEMO_RUN)/samples/*.mid"
	@echo "Report:       $(DEMO_RUN)/report.md (plots in $(DEMO_RUN)/plots/)"

test: install-dev
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check .

bench: install
	$(BIN)/python benchmarks/corpus_build.py

clean:
	rm -rf $(VENV) runs *.egg-info
