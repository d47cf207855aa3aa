# IEP — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
SELFTEST  := src/iep/kit/selftest.py
# React Email toolchain (Bun, React, Tailwind) from the npm registry, pinned in its package.json; no lock file.
REACT_EMAIL := src/iep/rendering/react_email
NPM_STAMP   := $(REACT_EMAIL)/node_modules/.iep-installed
# Resend's official Node SDK for the facade's test (tests/resend_sdk), pinned in its package.json; no lock file.
RESEND_SDK  := tests/resend_sdk
SDK_STAMP   := $(RESEND_SDK)/node_modules/.iep-installed
# The TypeScript client's toolchain (openapi-typescript, openapi-fetch, tsc), pinned in its package.json.
TS_CLIENT   := clients/typescript
TS_STAMP    := $(TS_CLIENT)/node_modules/.iep-installed
# Interpreters tried in order; the first that passes the header-injection self-test (SPEC §4) builds the venv.
PYENV_ROOT_DIR := $(shell pyenv root 2>/dev/null)
# pytest-xdist processes for `make test`; each builds its own database by the migrations (0.2 s) and vhost.
TEST_WORKERS ?= 2
CANDIDATES ?= $(PYTHON) /usr/bin/python3 $(PYENV_ROOT_DIR)/versions/3.13.0/bin/python3 python3.13 python3

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	@chosen=""; for c in $(CANDIDATES); do \
	  if command -v $$c >/dev/null 2>&1 && $$c $(SELFTEST) >/dev/null 2>&1 && $$c -c 'import venv, ensurepip' 2>/dev/null; then chosen=$$c; break; fi; \
	done; \
	if [ -z "$$chosen" ]; then \
	  echo "No interpreter here passes the header-injection self-test (SPEC.md §4); tried: $(CANDIDATES)" >&2; \
	  echo "Install a patched Python (Debian's python3 3.11.2+deb12, or CPython 3.13) and set PYTHON=/path/to/python3." >&2; \
	  exit 1; fi; \
	echo "Using $$chosen ($$($$chosen $(SELFTEST)))"; \
	if [ -x $(PY) ] && ! $(PY) $(SELFTEST) >/dev/null 2>&1; then rm -rf $(VENV); fi; \
	[ -x $(PY) ] || $$chosen -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

$(NPM_STAMP): $(REACT_EMAIL)/package.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed to install the React Email toolchain (Debian: apt-get install npm)" >&2; exit 1; }
	cd $(REACT_EMAIL) && npm install --no-package-lock --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

$(TS_STAMP): $(TS_CLIENT)/package.json
	cd $(TS_CLIENT) && npm install --no-package-lock --no-audit --no-fund --loglevel=error
	@touch $(TS_STAMP)

$(SDK_STAMP): $(RESEND_SDK)/package.json
	cd $(RESEND_SDK) && npm install --no-package-lock --no-audit --no-fund --loglevel=error
	@touch $(SDK_STAMP)

# Programs outside the venv (Debian's Chromium for Playwright, wrk, rabbitmqctl, ...): one list, scripts/programs.txt;
# whatever is missing is installed, or the run stops with one line naming the package.
PROGRAMS := $(shell awk 'NF && substr($$1, 1, 1) != "\043" {print $$1}' scripts/programs.txt)

.PHONY: programs
programs: ## install the programs the suite and the benchmarks run (scripts/programs.txt)
	@scripts/ensure-programs $(PROGRAMS)

.PHONY: install
install: programs $(STAMP) $(NPM_STAMP) $(SDK_STAMP) $(TS_STAMP) ## create .venv with a safe interpreter, IEP, test tools, Bun + React Email, programs

.PHONY: dev
dev: $(STAMP) $(NPM_STAMP) ## start IEP on embedded PostgreSQL with a demo tenant (Ctrl-C stops)
	$(VENV)/bin/iep run --role dev

.PHONY: test
test: programs $(STAMP) $(NPM_STAMP) $(SDK_STAMP) $(TS_STAMP) ## lint, clients in step with the API, then the whole suite against real PostgreSQL (an unreachable service fails the run)
	$(MAKE) --no-print-directory clients-check
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not exclusive" $(PYTEST_ARGS)
	$(PY) -m pytest -q -m exclusive $(PYTEST_ARGS) || [ $$? -eq 5 ]  # 5: PYTEST_ARGS chose none of them

.PHONY: clients
clients: $(STAMP) $(TS_STAMP) ## regenerate clients/: the OpenAPI document, the Python client and the TypeScript types
	$(VENV)/bin/iep openapi > clients/openapi.json
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/openapi-python-client generate --path clients/openapi.json \
	  --meta none --output-path clients/python/iep_client --overwrite --config clients/python/config.yaml
	cd $(TS_CLIENT) && node node_modules/openapi-typescript/bin/cli.js ../openapi.json --default-non-nullable false --output src/schema.d.ts

.PHONY: clients-check
clients-check: clients ## fail when clients/ differs from what the code's OpenAPI document generates (CI runs it)
	@if ! git diff --quiet -- clients/ || [ -n "$$(git ls-files --others --exclude-standard -- clients/)" ]; then \
	  git diff --stat -- clients/ >&2; git ls-files --others --exclude-standard -- clients/ >&2; \
	  echo "clients/ is out of step with the API: run 'make clients' and commit the result" >&2; exit 1; fi

.PHONY: lint
lint: $(STAMP) ## ruff + mypy --strict
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy

.PHONY: faults
faults: $(STAMP) ## long fault runs: 2,000 messages per backend and fault; the table lands in .iep/faults.md
	@mkdir -p .iep && printf '| backend | fault | accepted | delivered | lost | duplicated | ambiguous | notes |\n|---|---|---|---|---|---|---|---|\n' > .iep/faults.md
	IEP_FAULT_MESSAGES=2000 IEP_FAULT_KILLS=5 IEP_FAULT_REPORT=.iep/faults.md $(PY) -m pytest -q -s \
	  tests/e2e/test_queue_faults.py
	@cat .iep/faults.md

.PHONY: fuzz
fuzz: $(STAMP) ## schemathesis over the whole API: FUZZ_EXAMPLES (default 200) cases per operation + stateful runs
	IEP_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(PY) -m pytest -q tests/api/test_schemathesis.py

.PHONY: bench
bench: programs $(STAMP) ## benchmarks beside this machine's own ceilings (BENCH_ARGS=--quick for a smoke run)
	$(PY) -m bench.run $(BENCH_ARGS)

.PHONY: clean
clean: ## remove the environment and local state
	rm -rf $(VENV) .iep .pytest_cache .mypy_cache .ruff_cache $(REACT_EMAIL)/node_modules $(RESEND_SDK)/node_modules $(TS_CLIENT)/node_modules
