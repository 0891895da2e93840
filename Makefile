#!make
# yurt: the seed project's workflow (make up, make job-run, ...) with the same target names
# and variables, plus the developer targets (make test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
YURT := $(BIN)/yurt
STAMP := $(VENV)/.installed
RUN_DIR := .run
PID_FILE := $(RUN_DIR)/yurt.pid
LOG_FILE := $(RUN_DIR)/yurt.log
# The agent config, shaped like the seed's server.hcl.
CONFIG ?= config/agent.hcl
NOMAD_ADDRESS = -address=http://127.0.0.1:4646

.PHONY: venv deps test test-fast lint typecheck up stop status restart logs node-status \
        job-validate job-run job-status job-stop job-allocs job-last-alloc-id \
        job-last-alloc-status job-run-redis podman cluster-demo cluster-demo-stop

ifdef VENV_EXTERNAL
# A venv made elsewhere (the end-to-end tests reuse the repository's): use it, never reinstall
# it from this checkout.
$(STAMP):
	@test -x $(BIN)/yurt || { echo "no yurt in $(VENV)" >&2; exit 1; }
else
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip 2>/dev/null >/dev/null
	@$(BIN)/pip install -q -e '.[test]' 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/python -c "import yurt" && touch $(STAMP)
endif

venv: $(STAMP)

deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy src/

test: $(STAMP) deps lint typecheck
	$(call pytest,-q)

# The fast lane, to run while working: every test that starts no process (no yurt process,
# Podman, nginx, Chromium, openssl...; tests/support/lanes.py sorts them), in well under a
# minute, then `ruff check` (under a second). Not mypy (~40 s cold): `make typecheck` before
# a commit. PYTEST_ARGS narrows it: make test-fast PYTEST_ARGS="-x tests/router".
test-fast: $(STAMP)
	$(call pytest,-q --lane=fast $(PYTEST_ARGS))
	$(BIN)/ruff check src tests bench scripts

# pytest with its wall time; exit 5 (no test collected) fails the target saying so, so that a
# lane which selects nothing can never look like a pass. PYTHONDONTWRITEBYTECODE is dropped:
# with it set, pytest rewrites every test module's asserts again on each run (seconds).
define pytest
	@start=$$(date +%s); env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest $(1); rc=$$?; \
	echo "$@: pytest $(1) exited $$rc after $$(( $$(date +%s) - start ))s"; \
	if [ $$rc -eq 5 ]; then echo "$@: no test was collected: that is a failure" >&2; fi; \
	exit $$rc
endef

# --- the stack (the seed's docker-compose targets) ---

up: $(STAMP) deps
	@mkdir -p $(RUN_DIR)
	@if [ -f $(PID_FILE) ] && kill -0 $$(cat $(PID_FILE)) 2>/dev/null; then \
	  echo "yurt is already running (pid $$(cat $(PID_FILE)))"; \
	else \
	  setsid nohup $(YURT) up -config $(CONFIG) >> $(LOG_FILE) 2>&1 < /dev/null & echo $$! > $(PID_FILE); \
	  echo "yurt up started (pid $$(cat $(PID_FILE)), log $(LOG_FILE))"; \
	fi
	@$(BIN)/python scripts/wait-ready.py --pid-file $(PID_FILE) --log $(LOG_FILE)
	@$(MAKE) --no-print-directory status

stop:
	@if [ -f $(PID_FILE) ] && kill -0 $$(cat $(PID_FILE)) 2>/dev/null; then \
	  pid=$$(cat $(PID_FILE)); kill -TERM $$pid; \
	  for i in $$(seq 1 150); do kill -0 $$pid 2>/dev/null || break; sleep 0.2; done; \
	  if kill -0 $$pid 2>/dev/null; then echo "yurt did not stop in 30s; killing it"; kill -KILL $$pid; fi; \
	  echo "yurt stopped"; \
	else echo "yurt is not running"; fi
	@rm -f $(PID_FILE)

status:
	@if [ -f $(PID_FILE) ] && kill -0 $$(cat $(PID_FILE)) 2>/dev/null; then \
	  echo "yurt is running (pid $$(cat $(PID_FILE)))"; \
	  $(YURT) catalog services -health 2>/dev/null || true; \
	else echo "yurt is not running"; fi

restart: stop up

# Podman's Docker-compatible API as the docker driver's engine, with the demo images
# (nginx:alpine, redis:7) built locally: no registry is needed.
podman:
	@DOCKER_HOST=$$(bash scripts/podman-service.sh $(RUN_DIR)) && bash scripts/build-images.sh && \
	  echo "podman is serving the Docker API; before make up run:" && \
	  echo "  export DOCKER_HOST=$$DOCKER_HOST"

logs:
	@tail -n 100 -f $(LOG_FILE)

node-status: $(STAMP)
	$(YURT) node status $(NOMAD_ADDRESS)

# --- the job sandbox (the seed's targets; pick a demo job with JOB_POSTFIX) ---
## JOB_POSTFIX: nginx, redis, sleep (docker / raw_exec as in the seed), or the variants for
## machines without Docker: nginx-raw, redis-raw
JOB_POSTFIX ?= nginx
JOB_NAME = job-$(JOB_POSTFIX)
JOB_PATH = jobs/job.$(JOB_POSTFIX).nomad

# validate the job file
job-validate: $(STAMP)
	$(YURT) job validate $(JOB_PATH)
# run (or update) the job
job-run: $(STAMP)
	@$(BIN)/python scripts/check-driver.py $(JOB_PATH) $(NOMAD_ADDRESS)
	$(YURT) job run $(NOMAD_ADDRESS) $(JOB_PATH)
# the jobs
job-status: $(STAMP)
	$(YURT) job status $(NOMAD_ADDRESS)
# stop the job by name
job-stop: $(STAMP)
	$(YURT) job stop $(NOMAD_ADDRESS) $(JOB_NAME)
# the job's allocations (an allocation is one placement of a task group)
job-allocs: $(STAMP)
	$(YURT) job allocs $(NOMAD_ADDRESS) $(JOB_NAME)
# the ID of the job's running allocation
FIND_ALLOC_ID_QUERY = $(YURT) job allocs $(NOMAD_ADDRESS) $(JOB_NAME) | grep running | awk '{print $$1}'
ALLOC_ID ?= $(shell $(FIND_ALLOC_ID_QUERY))
job-last-alloc-id: $(STAMP)
	@echo $(ALLOC_ID)
# the status of that allocation
job-last-alloc-status: $(STAMP)
	$(YURT) alloc status $(NOMAD_ADDRESS) $(ALLOC_ID)

job-run-redis: $(STAMP)
	@$(MAKE) --no-print-directory job-run JOB_POSTFIX=redis

# --- a three-server cluster on this machine (docs/cluster.md; root: network namespaces) ---
# Five namespaces on a bridge: three servers (etcd member, scheduler, catalog each), a client
# and a router; the seed's nginx job through the router. Not part of `make up`.
cluster-demo: $(STAMP)
	@bash scripts/cluster-demo.sh up
cluster-demo-stop:
	@bash scripts/cluster-demo.sh down
