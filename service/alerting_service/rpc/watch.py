"""Where WatchAlerts may read up to: the settled seq, refreshed a few times a second per
replica however many consoles watch (each refresh briefly holds writers back), in the
background while someone watches, so that a stream never waits on the lock itself."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import psycopg
from psycopg_pool import PoolClosed, PoolTimeout

from alerting_service import store

log = logging.getLogger(__name__)
WATCH_BATCH = 500
REFRESH_SECONDS = 0.5
# The background refresh stops this long after the last stream asked (no watcher, no lock).
IDLE_SECONDS = 5.0


class Horizon:
    def __init__(self, state: Any):
        self._state = state
        self._lock = asyncio.Lock()
        self._value = 0
        self._asked = float("-inf")
        self._task: asyncio.Task | None = None
        self.advanced = asyncio.Event()

    async def settled(self, fresh: bool = False) -> int:
        """The highest seq every alert up to which is committed (or never will be); `fresh`:
        as of now, not of the last refresh (a stream starting from now must not replay the
        alerts committed since)."""
        self._asked = time.monotonic()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow())
        if fresh:
            await self._refresh()
        return self._value

    async def _refresh(self) -> None:
        async with self._lock:
            async with self._state.pool.connection() as conn:
                value = await store.settled_seq(conn)
            if value is None:
                log.warning("watch horizon not advanced: writers held the alerts table past the lock timeout")
            elif value > self._value:
                self._value = value
                # Streams waiting for news wake up now rather than at their next poll.
                self.advanced.set()
                self.advanced = asyncio.Event()

    async def _follow(self) -> None:
        while time.monotonic() - self._asked < IDLE_SECONDS:
            try:
                await self._refresh()
            except (psycopg.Error, PoolTimeout, PoolClosed) as exc:
                # The streams go on with the last horizon; the database answers again later.
                log.warning("watch horizon not advanced", extra={"error": type(exc).__name__})
            await asyncio.sleep(REFRESH_SECONDS)

    async def wait(self, timeout: float) -> None:
        """Until the horizon moves on, or `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.advanced.wait(), timeout)
