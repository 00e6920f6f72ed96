"""The PostgreSQL connection pool: opened at start-up (waiting for the database), closed at shutdown."""
from __future__ import annotations

import asyncio
import logging

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from alerting_service.config import Settings

log = logging.getLogger(__name__)


async def _configure(conn: psycopg.AsyncConnection) -> None:
    # UTC: every replica prints received_at with the same offset. The statement timeout
    # turns a stuck query into a 503 the balancer and client retry, not a hung request.
    await conn.execute("SET TIME ZONE 'UTC'; SET statement_timeout = '10s'")


async def open_pool(settings: Settings) -> AsyncConnectionPool:
    """Open the pool once the database accepts connections, or raise after db_wait_seconds.

    The pool retries failed connection attempts itself, with exponential backoff and
    jitter, so waiting here rides out a database that is still starting up.
    """
    pool = AsyncConnectionPool(
        settings.db_dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_seconds,
        # Autocommit: reads need no transaction; writes open an explicit one.
        kwargs={"autocommit": True, "row_factory": dict_row},
        configure=_configure,
        # A connection broken by a database restart is replaced before a request sees it.
        check=AsyncConnectionPool.check_connection,
        name="alerts",
        open=False,
    )
    try:
        await pool.open(wait=True, timeout=settings.db_wait_seconds)
    except PoolTimeout:
        await pool.close()
        raise RuntimeError(f"alerts database not reachable within {settings.db_wait_seconds:g}s") from None
    log.info("database pool open", extra={"pool_min": settings.pool_min_size, "pool_max": settings.pool_max_size})
    return pool


async def is_ready(pool: AsyncConnectionPool, timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            async with pool.connection(timeout=timeout) as conn:
                # The table, not just the server: an unmigrated database cannot serve either.
                await conn.execute("SELECT 1 FROM alerts.alerts LIMIT 0")
        return True
    except (psycopg.Error, PoolTimeout, TimeoutError):
        return False
