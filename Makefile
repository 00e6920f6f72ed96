# Watchlist screening — local path. The same components as docker-compose.yaml, natively:
# a project-owned PostgreSQL, the alerting service replicas behind nginx, Spark local[*],
# Airflow with a local metadata DB. Everything lives under .local/ (git-ignored), except, as
# root, what postgres and nginx's workers must reach: /var/lib/watchlist-screening/<key>/
# (scripts/lib.sh; the clone may sit where they cannot enter). `make clean` removes both.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

REPO := $(abspath .)
LOCAL := $(REPO)/.local
VENV := $(REPO)/.venv
PY := $(VENV)/bin/python
ENV := source $(REPO)/scripts/env.sh
APT_PACKAGES := postgresql default-jre-headless nginx-light curl gettext-base docker-compose chromium wrk
INSTALL_STAMP := $(VENV)/.installed-$(shell cat requirements.txt pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)

DATE ?= 2026-11-23
LANDING_DIR ?= $(LOCAL)/landing
DEMO_DIR := $(LOCAL)/demo-landing
PYTEST_ARGS ?=

.PHONY: help install up down db airflow-db airflow airflow-down demo run test bench bench-full generate clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(INSTALL_STAMP)  ## Debian packages and the pinned virtualenv (once; reused after)

$(INSTALL_STAMP): requirements.txt pyproject.toml
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "[install] apt:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@test -x $(PY) || python3.11 -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)
	@echo "[install] python packages (pinned, requirements.txt)"
	@$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -r requirements.txt
	@$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*; touch $@

db: install  ## PostgreSQL only (warehouse + alerts databases, migrations)
	@$(REPO)/scripts/stack.sh db

up: install  ## start the local stack: PostgreSQL, alerting replicas, nginx on 127.0.0.1:8088
	@$(REPO)/scripts/stack.sh up

down:  ## stop the local stack
	@$(REPO)/scripts/stack.sh down

airflow-db: install
	@$(ENV); mkdir -p "$$AIRFLOW_HOME"; airflow db migrate >"$(LOCAL)/logs/airflow-db.log" 2>&1 \
	  || { tail -20 "$(LOCAL)/logs/airflow-db.log"; exit 1; }

generate: install  ## generate a landing dir: make generate LANDING_DIR=... DATE=... [GEN_ARGS=...]
	@$(PY) -m watchlist_screening.generator --landing-dir "$(LANDING_DIR)" --date $(DATE) $(GEN_ARGS)

run: up airflow-db  ## screen one day: make run DATE=YYYY-MM-DD LANDING_DIR=path
	@$(ENV); $(REPO)/scripts/run_day.sh "$(DATE)" "$(LANDING_DIR)"

demo: up airflow-db  ## generate a sample day, run the DAG for it, print summary + precision/recall
	@$(PY) -m watchlist_screening.generator --landing-dir "$(DEMO_DIR)" --date $(DATE) \
	  --watchlist-size 5000 --airports LHR,CDG --passengers-per-airport 5000 --sightings 40 --bad-lines 12 --seed 7 >/dev/null
	@$(ENV); $(REPO)/scripts/run_day.sh "$(DATE)" "$(DEMO_DIR)" >"$(LOCAL)/logs/demo-summary.json"
	@$(ENV); $(PY) -m watchlist_screening.reporting.demo_report --summary "$(LOCAL)/logs/demo-summary.json" \
	  --landing-dir "$(DEMO_DIR)" --date $(DATE)

test: install  ## the whole test suite (starts what it needs itself)
	@$(ENV); $(PY) -m pytest $(PYTEST_ARGS)

airflow: up  ## Airflow with the UI (api-server, scheduler, dag-processor, triggerer) on 127.0.0.1:8080; prints URL + login
	@$(REPO)/scripts/airflow.sh start

airflow-down:  ## stop Airflow (make airflow)
	@$(REPO)/scripts/airflow.sh stop

bench-full: up  ## the full-scale day (1M watchlist × 2 × 500k) through Airflow; not in CI (tens of minutes)
	@$(ENV); $(PY) bench/full_day.py $(BENCH_FULL_ARGS)

bench: db  ## benchmarks; figures written to bench/results/*.json
	@$(ENV); $(PY) bench/ingest.py
	@$(ENV); $(PY) bench/alerting_load.py
	@$(ENV); $(PY) bench/alerting_grpc_load.py
	@$(ENV); $(PY) bench/linkage_eval.py --spark
	@$(ENV); $(PY) bench/scenario_grid.py
	@$(ENV); $(PY) bench/privacy_bench.py
	@$(ENV); $(PY) bench/scenario_grid_encoded.py --size large --out bench/results/scenario_grid_encoded_large.json
	@$(ENV); $(PY) bench/scenario_grid_encoded.py --scenarios default --watchlist 20000 --passengers-per-airport 50000 --out bench/results/linkage_encoded_20k_100k.json

.PHONY: bench-privacy
bench-privacy: install  ## privacy-preserving mode: FEBRL4 on CLKs, encoding throughput, frequency attack, the grid encoded against clear
	@$(ENV); $(PY) bench/privacy_bench.py
	@$(ENV); $(PY) bench/scenario_grid_encoded.py --size large --out bench/results/scenario_grid_encoded_large.json
	@$(ENV); $(PY) bench/scenario_grid_encoded.py --scenarios default --watchlist 20000 --passengers-per-airport 50000 --out bench/results/linkage_encoded_20k_100k.json

clean: airflow-down  ## stop the stack and delete .local and its cluster outside it (databases, models, logs)
	@$(REPO)/scripts/stack.sh destroy
	rm -rf $(LOCAL)
