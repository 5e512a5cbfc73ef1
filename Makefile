# Two commands do everything on a fresh machine with Python 3:
#   make demo   set up, then run leadctl's main job on the bundled examples
#   make test   set up, then run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip

.PHONY: demo test setup bench clean

$(BIN)/leadctl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[test,bench]"
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
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf demo $(VENV) .pytest_cache .hypothesis
