# Linli — two commands on a fresh machine with only Python 3.11+:
#   make run    the bot (the sandbox with a web chat page when LINLI_BOT_TOKEN is not set)
#   make test   the whole test suite (installs Chromium and the fonts the browser tests need when it may:
#               .ci/browser-deps; otherwise it stops at once with the one command to run)
# uv is used when present, else python3 -m venv + pip. `make run` installs what running needs; `make test`,
# `make lint` and `make bench` add the test extras (pytest, playwright, hypothesis, ruff …).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-run
TSTAMP := $(VENV)/.installed-test
UV     := $(shell command -v uv 2>/dev/null)

-include .env
export

.PHONY: run sandbox test bench lint i18n db-upgrade clean

$(VENV)/bin/python:
ifdef UV
	uv venv --python $(PYTHON) $(VENV)
else
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
endif

# what running needs
$(STAMP): pyproject.toml | $(VENV)/bin/python
ifdef UV
	uv pip install --python $(BIN)/python -e .
else
	$(BIN)/python -m pip install --quiet -e .
endif
	touch $(STAMP)

# what testing, linting and benchmarks need on top
$(TSTAMP): $(STAMP)
ifdef UV
	uv pip install --python $(BIN)/python -e ".[test]"
else
	$(BIN)/python -m pip install --quiet -e ".[test]"
endif
	touch $(TSTAMP)

run: $(STAMP)
	@if [ -z "$(LINLI_BOT_TOKEN)" ]; then \
		echo "LINLI_BOT_TOKEN is not set: starting the sandbox (local Telegram stand-in + web chat page," \
		     "on its own database ./data/sandbox.db, never LINLI_DATABASE_URL)"; \
		$(BIN)/linli sandbox; \
	else \
		$(BIN)/linli db upgrade && $(BIN)/linli run; \
	fi

sandbox: $(STAMP)
	$(BIN)/linli sandbox

db-upgrade: $(STAMP)
	$(BIN)/linli db upgrade

test: $(TSTAMP)
	$(BIN)/python .ci/browser-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 4

bench: $(TSTAMP)
	$(BIN)/python -m benchmarks

lint: $(TSTAMP)
	$(BIN)/ruff check bot flows storage scheduler web tests benchmarks linli_cli.py

i18n: $(STAMP)
	$(BIN)/python bot/locales/check_catalogs.py --extract --update

clean:
	rm -rf $(VENV) .pytest_cache
