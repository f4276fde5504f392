# Two commands do all set-up on a fresh Debian machine with Python 3.11 (no conda needed):
#   make demo   - creates .venv, installs kmrv-geo, makes the synthetic sample and runs the whole pipeline
#   make test   - creates .venv with the test tools, runs the lint (ruff) and the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kmrv-installed
DEMO_OUT ?= demo_out

.PHONY: demo test bench venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/kmrv demo --out $(DEMO_OUT) --overwrite

test: $(STAMP)
	$(VENV)/bin/ruff check kmrv_geo tests scripts
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) scripts/bench.py --out bench

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
