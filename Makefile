# Entry points. Each target does its own set-up, idempotently.
SHELL := /bin/bash
VENV := .venv/bin
export PGHOST ?= 127.0.0.1
export PGUSER ?= postgres
S3_PORT ?= 9000

.PHONY: setup demo test lint bench s3-up down

setup:
	@bash scripts/setup.sh

## make demo: local S3 (moto server) with generated exports, ingest both datasets, show the result.
demo: setup s3-up
	@set -a; source .env; set +a; \
	$(VENV)/fleettickets sample --to-bucket --rows 31434 --deltas 3 && \
	$(VENV)/fleettickets ingest inc && \
	$(VENV)/fleettickets ingest crq && \
	$(VENV)/fleettickets status && \
	psql -d tracksolid_db -c "SELECT ticket_id, raw_status, bucket, region, cluster, assigned_team, created_at_service FROM tickets.inc WHERE bucket = 'pending' ORDER BY coalesce(created_at_service, first_seen_at) LIMIT 5"

## make test: the whole suite against real PostgreSQL + PostGIS, S3 over HTTP and a Prefect server.
test: setup
	$(VENV)/ruff check .
	$(VENV)/pytest -q

lint:
	$(VENV)/ruff check .

bench: setup
	$(VENV)/python bench/run_bench.py

s3-up:
	@bash scripts/local_s3.sh start $(S3_PORT)

down:
	@bash scripts/local_s3.sh stop $(S3_PORT)
