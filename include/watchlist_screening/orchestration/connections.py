"""Resolve connections for tasks: Airflow connections first, the environment as fallback,
so the same code runs under Airflow, in tests and from the CLI."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from watchlist_screening.pipeline_settings import Settings

WAREHOUSE_CONN_ID = "warehouse_postgres"
ALERTING_CONN_ID = "alerting_service"


@dataclass(frozen=True)
class AlertingEndpoint:
    base_url: str
    token: str
    # reads reviewer decisions (GET /v1/reviews) for training; None: no labels are used
    label_token: str | None = None
    # host:port of the balancer's gRPC listener (the connection's extra grpc_port)
    grpc_target: str | None = None


def _connection(conn_id: str):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    if conn.password:
        # also as it appears inside URLs that drivers quote in their errors
        mask_secret(conn.password)
        mask_secret(quote(conn.password, safe=""))
    return conn


def libpq_url(uri: str) -> str:
    """A URL psycopg/libpq accept: Airflow renders postgres://, SQLAlchemy-style hooks
    postgresql+psycopg://."""
    scheme, sep, rest = uri.partition("://")
    return f"postgresql://{rest}" if sep and scheme.split("+")[0] in ("postgres", "postgresql") else uri


def warehouse_dsn(settings: Settings) -> str:
    conn = _connection(WAREHOUSE_CONN_ID)
    return libpq_url(conn.get_uri()) if conn is not None else settings.warehouse_dsn


def alerting_endpoint(settings: Settings) -> AlertingEndpoint:
    conn = _connection(ALERTING_CONN_ID)
    if conn is None:
        return AlertingEndpoint(settings.alerts_url, settings.pipeline_token, settings.label_token,
                                settings.alerts_grpc_target)
    scheme = conn.schema or "http"
    port = f":{conn.port}" if conn.port else ""
    label_token = (conn.extra_dejson or {}).get("label_token") or settings.label_token
    if label_token:
        from airflow.sdk.log import mask_secret

        mask_secret(label_token)
    grpc_port = (conn.extra_dejson or {}).get("grpc_port")
    grpc_target = f"{conn.host}:{grpc_port}" if grpc_port else settings.alerts_grpc_target
    return AlertingEndpoint(f"{scheme}://{conn.host}{port}", conn.password or settings.pipeline_token, label_token,
                            grpc_target)
