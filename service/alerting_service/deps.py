"""FastAPI dependencies as type aliases, so a route says what it needs (a database
connection, the caller of a role, the settings) instead of reaching into request.app.state."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerting_service.auth import Principal, Role, require
from alerting_service.config import Settings
from alerting_service.metrics import Metrics


def _pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.pool


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _metrics(request: Request) -> Metrics:
    return request.app.state.metrics


PoolDep = Annotated[AsyncConnectionPool, Depends(_pool)]
SettingsDep = Annotated[Settings, Depends(_settings)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]


async def _connection(pool: PoolDep) -> AsyncIterator[AsyncConnection]:
    # Autocommit (db.py): reads need no transaction, writers open their own.
    async with pool.connection() as conn:
        yield conn


SessionDep = Annotated[AsyncConnection, Depends(_connection)]
# The caller, once its bearer token was checked for the role (rate-limited either way).
PipelineCaller = Annotated[Principal, Depends(require(Role.PIPELINE))]
ReviewerCaller = Annotated[Principal, Depends(require(Role.REVIEWER))]
LabelReader = Annotated[Principal, Depends(require(Role.REVIEWER, Role.LABELS))]
