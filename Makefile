# Two entry points for people: `make serve` and `make test`. Each builds .venv on first use
# (and again whenever pyproject.toml changes), so a fresh clone needs only Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make serve HOST=0.0.0.0 PORT=8080` passes --host/--port. Only command-line values count
# (tcsh exports HOST as the machine's name); otherwise the mock's own precedence decides:
# SOCMOCK_HOST / SOCMOCK_PORT, else 127.0.0.1:8000, so `SOCMOCK_PORT=18090 make serve` works.
SERVE_ARGS := $(if $(filter command line,$(origin HOST)),--host $(HOST)) \
              $(if $(filter command line,$(origin PORT)),--port $(PORT))

.PHONY: serve test lint bench mutation fixtures clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

serve: $(STAMP)
	$(BIN)/soc-mock serve $(strip $(SERVE_ARGS))

test: $(STAMP)
	$(BIN)/ruff check mockserver conformance tests bench examples mutation
	$(BIN)/ruff format --check mockserver conformance tests bench examples mutation
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check mockserver conformance tests bench examples mutation
	$(BIN)/ruff format --check mockserver conformance tests bench examples mutation
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# Mutation testing of the pure core, one module at a time against its own tests, one mutmut
# child (the machine is shared): slow (tens of minutes), so not part of `make test`.
# MODULES='mockserver/query.py ...' narrows it; scores and new survivors are printed per module.
mutation: $(STAMP)
	$(BIN)/python mutation/run.py $(MODULES)

# Regenerate the committed fixtures (deterministic: same seed and count, same bytes).
fixtures: $(STAMP)
	$(BIN)/soc-mock generate --seed 20261129 --count 2000 -o fixtures/iocs.json

clean:
	rm -rf $(VENV) build dist
