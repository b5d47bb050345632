# KOIKI-FW developer commands. `make dev` and `make test` are the two a fresh clone needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BACKEND_PORT ?= 8000
BENCH_DURATION ?= 15
BENCH_ROUNDS ?= 3
# 0.0.0.0 (or this machine's address) serves the dev servers to other machines too.
DEV_HOST ?= 127.0.0.1
FRONTEND_PORT ?= 3000

.PHONY: help install dev backend frontend migrate test coverage lint format typecheck security bench

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# --no-deps: the lock is complete, so pip installs it as written instead of resolving again
# (pip 23's resolver refuses a locked package that another one asks for with an extra);
# `pip check` then says if the lock ever misses a requirement.
$(VENV)/.installed: requirements/dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	$(BIN)/pip check
	touch $@

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund

# The OpenID Provider the SSO tests run on loopback (never deployed).
OIDC_TEST_OP := tests/support/oidc_provider
$(OIDC_TEST_OP)/node_modules/.package-lock.json: $(OIDC_TEST_OP)/package-lock.json
	cd $(OIDC_TEST_OP) && npm ci --no-audit --no-fund

install: $(VENV)/.installed  ## install the backend (and frontend) dependencies from the locks
	@if [ -f frontend/package-lock.json ]; then $(MAKE) --no-print-directory frontend/node_modules/.package-lock.json; fi
	@$(MAKE) --no-print-directory $(OIDC_TEST_OP)/node_modules/.package-lock.json

migrate: $(VENV)/.installed  ## apply the database migrations (DATABASE_URL, default: SQLite file)
	$(BIN)/alembic upgrade head

backend: migrate  ## run the API with auto-reload on http://localhost:$(BACKEND_PORT)
	$(BIN)/uvicorn main:app --reload --host $(DEV_HOST) --port $(BACKEND_PORT)

frontend: install  ## run the Next.js dev server on http://localhost:$(FRONTEND_PORT), calling the API on $(BACKEND_PORT)
	cd frontend && PORT=$(FRONTEND_PORT) DEV_HOST=$(DEV_HOST) NEXT_TELEMETRY_DISABLED=$${NEXT_TELEMETRY_DISABLED:-1} \
	  NEXT_PUBLIC_API_BASE_URL=http://$(if $(filter 0.0.0.0,$(DEV_HOST)),127.0.0.1,$(DEV_HOST)):$(BACKEND_PORT)/api/v1 npm run dev

# scripts/dev.py runs each server in a process group of its own and stops them with one signal.
dev: install migrate  ## install everything and run API + UI on the embedded default (Ctrl-C stops both)
	@exec $(BIN)/python scripts/dev.py --host $(DEV_HOST) --backend-port $(BACKEND_PORT) --frontend-port $(FRONTEND_PORT)

test: $(VENV)/.installed  ## run the test suite (set KOIKI_TEST_DATABASE_URL + KOIKI_TEST_REDIS_URL for PostgreSQL + Redis)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

coverage: $(VENV)/.installed  ## the test suite with branch coverage of app and libkoiki
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage report --skip-covered

lint: $(VENV)/.installed  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed  ## format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.installed  ## mypy (strict) on libkoiki
	$(BIN)/mypy libkoiki

security: $(VENV)/.installed  ## bandit: no medium or high findings allowed
	$(BIN)/bandit -q -r app libkoiki ops -ll

bench: $(VENV)/.installed  ## benchmark KOIKI against bare baselines (needs wrk, PostgreSQL, Redis); writes bench/RESULTS.md
	$(BIN)/python -m bench --duration $(BENCH_DURATION) --rounds $(BENCH_ROUNDS)
