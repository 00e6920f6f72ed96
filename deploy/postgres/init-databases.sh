#!/usr/bin/env bash
# First start of the compose Postgres: one database and role per component, so the
# alerting service cannot read the warehouse and Airflow's metadata stays apart.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE airflow LOGIN PASSWORD '${AIRFLOW_DB_PASSWORD}';
CREATE ROLE pipeline LOGIN PASSWORD '${WAREHOUSE_DB_PASSWORD}';
CREATE ROLE alerting LOGIN PASSWORD '${ALERTS_DB_PASSWORD}';
CREATE DATABASE airflow OWNER airflow;
CREATE DATABASE warehouse OWNER pipeline;
CREATE DATABASE alerts OWNER alerting;
SQL
