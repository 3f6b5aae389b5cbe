# Linli — two commands on a fresh machine with only Python 3.11+:
#   make run    the bot (the sandbox with a web chat page when LINLI_BOT_TOKEN is not set)
#   make test   the whole test suite
# uv is used when present, else python3 -m venv + pip.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
UV     := $(shell command -v uv 2>/dev/null)

-include .env
export

.PHONY: run sandbox test bench lint i18n db-upgrade clean

$(STAMP): pyproject.toml
ifdef UV
	uv venv --python $(PYTHON) $(VENV)
	uv pip install --python $(BIN)/python -e ".[test]"
else
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
endif
	touch $(STAMP)

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

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2

bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check bot flows storage scheduler web tests benchmarks linli_cli.py

i18n: $(STAMP)
	$(BIN)/python bot/locales/check_catalogs.py --extract --update

clean:
	rm -rf $(VENV) .pytest_cache
