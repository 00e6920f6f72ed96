"""Prometheus metrics of one replica (scrape each replica's /metrics, not the balancer)."""
from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Around the targets: a batch well under 100 ms, a database stall at seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _PoolCollector(Collector):
    """Connection-pool gauges, read from the pool at scrape time."""

    def __init__(self, stats: Callable[[], dict[str, int]]):
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self._stats()
        for key, help_text in (
            ("pool_size", "connections open, in use or idle"),
            ("pool_available", "idle connections"),
            ("requests_waiting", "requests waiting for a connection"),
        ):
            yield GaugeMetricFamily(f"alerting_db_{key}", help_text, value=stats.get(key, 0))


class Metrics:
    """One registry per app, so several apps in one process (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # `route` is the path template (/v1/alerts/{alert_id}), never the raw path: ids
        # would make one series per alert.
        self.requests = Counter("alerting_http_requests", "HTTP requests served",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("alerting_http_request_duration_seconds", "time to serve a request",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.alerts = Counter("alerting_alerts", "alerts in POSTed payloads by outcome (created, updated, duplicate, refused)",
                              ["outcome"], registry=r)
        self.replays = Counter("alerting_idempotent_replays", "requests answered from a stored Idempotency-Key response",
                               registry=r)
        self.reviews = Counter("alerting_reviews", "reviewer decisions recorded", ["decision"], registry=r)
        self.rate_limited = Counter("alerting_rate_limited", "requests refused with 429", registry=r)
        self.db_unavailable = Counter("alerting_db_unavailable", "requests answered 503 for want of the database",
                                      registry=r)

    def watch_pool(self, stats: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_PoolCollector(stats))
