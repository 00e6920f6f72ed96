"""Resolve connections for tasks: Airflow connections first, the environment as fallback,
so the same code runs under Airflow, in tests and from the CLI."""
from __future__ import annotations

from dataclasses import dataclass

from watchlist_screening.config import Settings

WAREHOUSE_CONN_ID = "warehouse_postgres"
ALERTING_CONN_ID = "alerting_service"


@dataclass(frozen=True)
class AlertingEndpoint:
    base_url: str
    token: str


def _connection(conn_id: str):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def warehouse_dsn() -> str:
    conn = _connection(WAREHOUSE_CONN_ID)
    if conn is None:
        return Settings.from_env().warehouse_dsn
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_uri()


def alerting_endpoint() -> AlertingEndpoint:
    conn = _connection(ALERTING_CONN_ID)
    settings = Settings.from_env()
    if conn is None:
        return AlertingEndpoint(settings.alerts_url, settings.pipeline_token)
    scheme = conn.schema or "http"
    port = f":{conn.port}" if conn.port else ""
    return AlertingEndpoint(f"{scheme}://{conn.host}{port}", conn.password or settings.pipeline_token)
