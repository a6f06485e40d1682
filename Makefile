# Entry points. Each target does its own set-up, idempotently.
SHELL := /bin/bash
VENV := .venv/bin
export PGHOST ?= 127.0.0.1
export PGUSER ?= postgres
export PREFECT_PORT ?= 4200
# The local stack's server unless the caller points elsewhere (make deploy against production).
export PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api
STACK := bash scripts/local_stack.sh
DEMO_ENV := set -a; source .env; set +a;

.PHONY: setup demo test test-long lint bench deploy down

setup:
	@bash scripts/setup.sh

## make demo: the real thing on the local stack: S3 endpoint with generated exports, a Prefect
## server on PostgreSQL, the bootstrap, a worker, one run of each deployment, the result.
demo: setup
	@$(STACK) start s3 && $(STACK) start prefect
	@echo "demo: a fresh stream, so the demo starts from empty tickets tables and an empty local bucket"
	@curl -fsS -X POST http://127.0.0.1:9000/moto-api/reset >/dev/null
	@psql -qd tracksolid_db -f scripts/demo_reset.sql
	@$(DEMO_ENV) $(VENV)/fleettickets sample --to-bucket --start now
	@$(MAKE) --no-print-directory deploy
	@$(STACK) start worker
	@$(DEMO_ENV) for ds in inc crq; do \
		$(VENV)/prefect deployment run "ingest-$$ds/scheduled" --watch --watch-timeout 600 | tail -3 || exit 1; \
	done
	@$(DEMO_ENV) $(VENV)/fleettickets status
	@psql -d tracksolid_db -f scripts/demo_report.sql
	@echo; echo "Prefect UI: http://127.0.0.1:$(PREFECT_PORT)  (Runs; Artifacts: inc-watermark, crq-watermark, inc-sla, crq-sla,"
	@echo "  inc-run-summary, inc-data-quality; Blocks: fleettickets-*; Deployments: ingest-inc/scheduled, ingest-crq/scheduled,"
	@echo "  and the operators' quarantine-file/on-demand, geocode-catch-up/on-demand)"
	@echo "Reseed:  prefect deployment run 'ingest-inc/scheduled' --param reseed=true --watch"
	@echo "Stop:    make down"

## make deploy: work pool, deployments and automations on the server at PREFECT_API_URL (idempotent).
deploy:
	@$(DEMO_ENV) $(VENV)/python -m deployments.bootstrap

## make test: lint, then the whole suite against real PostgreSQL + PostGIS, S3 over HTTP and Prefect.
test:
	@bash scripts/setup.sh --browser
	$(VENV)/ruff check .
	$(VENV)/hadolint Dockerfile
	$(VENV)/pytest -q -n 2

## make test-long: the arrival-order property test drawing 200 streams instead of 12.
test-long: setup
	FLEETTICKETS_PROPERTY_EXAMPLES=200 $(VENV)/pytest -q tests/test_arrival_orders.py

lint:
	$(VENV)/ruff check .
	$(VENV)/hadolint Dockerfile

bench: setup
	uv sync --frozen --quiet --group bench
	$(VENV)/python bench/run_bench.py $(BENCH_ARGS)

down:
	@$(STACK) stop all
