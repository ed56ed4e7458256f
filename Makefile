# Two commands: `make serve` installs fakekms into .venv and starts it; `make test` installs it
# with its test dependencies and runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 4599
PYTEST_ARGS ?= -n 2

.PHONY: serve test bench clean

$(BIN)/fakekms: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

serve: $(BIN)/fakekms
	$(BIN)/fakekms serve --port $(PORT)

test: $(BIN)/fakekms
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(BIN)/fakekms
	$(BIN)/python -m pip install --quiet "moto[server]"
	$(BIN)/python benchmarks/compare_moto.py
	$(BIN)/python benchmarks/under_load.py

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
