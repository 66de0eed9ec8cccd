# Proletto: `make demo` runs it with demo data on SQLite; `make test` runs the whole suite.
# Only Python 3.11+ is needed: everything else is installed into .venv.

PYTHON ?= $(shell command -v python3.12 || command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATABASE_URL ?= sqlite:///var/demo.sqlite3
DEMO_ENV := DEBUG=true EMAIL_ESP=file DATABASE_URL=$(DEMO_DATABASE_URL)

.PHONY: install test demo bench drills lint

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Proletto needs Python 3.11+, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# On PostgreSQL when DATABASE_URL points at one, on SQLite otherwise.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: install
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py load_demo
	$(DEMO_ENV) $(BIN)/python manage.py rundemo

lint: install
	$(BIN)/ruff check .
