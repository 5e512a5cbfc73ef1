# Two commands do everything on a fresh machine with Python 3:
#   make demo   set up, then run leadctl's main job on the bundled examples
#   make test   set up, then run the whole test suite (what CI runs)
# and, while working on the code:
#   make check  lint, then the test suite without the slow crash and scale tests
#   make lint   ruff and mypy only
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip
# Test processes in parallel (pytest-xdist); each gets its own SQLite files, and on
# PostgreSQL its own database. `make test WORKERS=0` runs in one process.
WORKERS ?= 2
PYTEST  = $(BIN)/python -m pytest -n $(WORKERS)

.PHONY: demo test check lint setup bench clean

$(BIN)/leadctl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[test,bench,model]"
	touch $@

setup: $(BIN)/leadctl

demo: setup
	rm -rf demo && mkdir demo
	cd demo && ../$(BIN)/leadctl init
	cd demo && ../$(BIN)/leadctl --now 2026-11-20T10:00 import ../examples/hubspot_contacts.csv ../examples/webform_leads.json --rejects rejects.csv
	cd demo && ../$(BIN)/leadctl --now 2026-11-20T10:00 activity import ../examples/activities.csv --rejects activity-rejects.csv
	cd demo && ../$(BIN)/leadctl --now 2026-11-20T10:00 import ../examples/closed_deals.csv --mode update --mapping ../examples/closed_deals.mapping.yaml --rejects deal-rejects.csv
	cd demo && ../$(BIN)/leadctl --now 2026-11-20T10:00 process
	cd demo && ../$(BIN)/leadctl leads list --sort -score --limit 15
	cd demo && ../$(BIN)/leadctl --now 2026-11-20T10:00 report funnel
	cd demo && ../$(BIN)/leadctl --now 2026-11-20T10:00 report sources
	cd demo && ../$(BIN)/leadctl --now 2026-11-20T10:00 followups due --limit 10

test: setup
	$(PYTEST)

check: lint
	$(PYTEST) -m "not slow"

lint: setup
	$(BIN)/ruff check leadctl tests benchmarks
	$(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf demo $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
