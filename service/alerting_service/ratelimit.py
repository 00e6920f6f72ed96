"""Per-client token buckets, kept in each replica's memory.

A replica limits what it serves itself, so behind N replicas a client gets about N times
the configured rate: the limit protects the database from a runaway client, it is not a
quota to be exact about, and it needs no shared state.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request


class RateLimited(Exception):
    def __init__(self, retry_after: float):
        super().__init__(f"rate limit exceeded, retry in {retry_after:.2f}s")
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter:
    def __init__(self, rate: float, burst: float, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        """`rate` requests per second per client, up to `burst` at once; rate <= 0 turns it off."""
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, client: str) -> None:
        """Take one token for `client` or raise RateLimited with the wait until the next one."""
        if self.rate <= 0:
            return
        now = self._clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1
        self._buckets[client] = (tokens - 1 if allowed else tokens, now)
        # Forgetting the least recently seen client only hands it a full bucket again;
        # the bound keeps a flood of made-up tokens from growing memory.
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        if not allowed:
            raise RateLimited((1 - tokens) / self.rate)


def client_key(request: Request) -> str:
    # uvicorn has already replaced the peer by X-Forwarded-For when the peer is a trusted
    # balancer ($ALERTS_TRUSTED_PROXIES), so this is the real client.
    return "addr-" + (request.client.host if request.client else "unknown")
