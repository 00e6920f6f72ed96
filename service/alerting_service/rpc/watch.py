"""Where WatchAlerts may read up to: the settled seq, computed at most a few times a second
per replica however many consoles watch (each computation briefly holds writers back)."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any


from alerting_service import store

log = logging.getLogger(__name__)
WATCH_BATCH = 500
REFRESH_SECONDS = 0.5


class Horizon:
    def __init__(self, state: Any):
        self._state = state
        self._lock = asyncio.Lock()
        self._value = 0
        self._at = float("-inf")

    async def settled(self) -> int:
        """The highest seq every alert up to which is committed (or never will be)."""
        async with self._lock:
            if time.monotonic() - self._at >= REFRESH_SECONDS:
                async with self._state.pool.connection() as conn:
                    value = await store.settled_seq(conn)
                if value is None:
                    log.warning("watch horizon not advanced: writers held the alerts table past the lock timeout")
                else:
                    self._value = max(self._value, value)
                self._at = time.monotonic()
            return self._value
