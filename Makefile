# Two commands: `make serve` installs fakekms into .venv and starts it; `make test` adds the test
# dependencies and runs the whole suite. `make help` lists every target.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 4599
PYTEST_ARGS ?= -n 2
# Build backends warn about packaging matters a user cannot act on; pip stays quiet too.
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --disable-pip-version-check

COMPAT_VENV ?= .venv-compat
COMPAT_BIN := $(COMPAT_VENV)/bin
COMPAT_PIP := PYTHONWARNINGS=ignore $(COMPAT_BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: help serve test suite compat bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 10
	@echo "variables: PORT=$(PORT) (make serve PORT=4600), PYTEST_ARGS='$(PYTEST_ARGS)', PYTHON=$(PYTHON)"

$(BIN)/fakekms: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -c constraints.txt -e .
	touch $@

$(VENV)/.test-dependencies: $(BIN)/fakekms
	$(PIP) -c constraints.txt -e '.[test]'
	touch $@

serve: $(BIN)/fakekms  ## install fakekms into .venv and serve KMS on http://127.0.0.1:PORT
	@echo "fakekms is $(BIN)/fakekms; '. $(BIN)/activate' puts it on your PATH"
	$(BIN)/fakekms serve --port $(PORT)

test: suite compat  ## install the test dependencies and run the whole suite, then the compatibility set

suite: $(VENV)/.test-dependencies  ## the whole suite, on the pinned (newest) botocore
	$(BIN)/python -m pytest $(PYTEST_ARGS)

$(COMPAT_VENV)/.test-dependencies: pyproject.toml constraints-oldest.txt
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_PIP) --upgrade pip
	$(COMPAT_PIP) -c constraints-oldest.txt -e '.[test]'
	touch $@

compat: $(COMPAT_VENV)/.test-dependencies  ## tests/compat under the oldest supported botocore
	$(COMPAT_BIN)/python -m pytest -p no:cacheprovider tests/compat

bench: $(VENV)/.test-dependencies  ## print figures beside moto and local-kms
	$(PIP) "moto[server]"
	$(BIN)/python benchmarks/compare_moto.py
	$(BIN)/python benchmarks/under_load.py
	$(BIN)/python benchmarks/serving.py

clean:  ## remove .venv, .venv-compat and caches
	rm -rf $(VENV) $(COMPAT_VENV) .pytest_cache *.egg-info
