# Proletto: `make demo` runs it with demo data on SQLite; `make test` runs the whole suite.
# Only Python 3.11+ is needed: everything else is installed into .venv.

# The first interpreter that actually runs and is 3.11+ (pyenv shims can exist and fail).
PYTHON ?= $(shell for py in python3 python3.13 python3.12 python3.11; do \
	$$py -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$py; break; }; \
	done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATABASE_URL ?= sqlite:///var/demo.sqlite3
# The demo scrapes its own sources on this machine: the only place private networks are allowed.
DEMO_ENV := DEBUG=true EMAIL_ESP=file SCRAPE_ALLOW_PRIVATE_NETWORKS=true DATABASE_URL=$(DEMO_DATABASE_URL)

.PHONY: install test demo bench drills lint

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Proletto needs Python 3.11+ (python3 on the PATH)"; exit 1; }
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

# The fault drills (also part of `make test`): DATABASE_URL=postgres://... make drills
drills: install
	$(BIN)/python -m pytest tests/drills $(PYTEST_ARGS)

# Every benchmark against PostgreSQL (BENCH_PG, default the local server); not part of `make test`.
bench: install
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
