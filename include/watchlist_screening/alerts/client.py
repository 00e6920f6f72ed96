"""HTTP client for POST /v1/alerts: retries what a retry can fix, fails fast on what it cannot.

Retrying a POST is safe because every batch carries an Idempotency-Key and the service
keeps one alert per (scan_id, subject_id).
"""
from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from datetime import datetime, timezone
from typing import Any

import requests

log = logging.getLogger(__name__)

# 408/409 are the client-side statuses a retry can fix: a slow upload, and (in the
# Idempotency-Key draft) "the first request with this key is still being processed".
_RETRYABLE_4XX = {408, 409, 429}
_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class AlertDeliveryError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RetryableAlertError(AlertDeliveryError):
    """Transient failures outlasted the retries; trying again later (e.g. an Airflow retry) may succeed."""


class NonRetryableAlertError(AlertDeliveryError):
    """The service rejected the request (bad payload, token, URL); sending it again cannot help."""


class AlertClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float | tuple[float, float] = (5.0, 65.0),
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
    ):
        """`timeout` is (connect, read) seconds; the read timeout exceeds the balancer's own
        retry budget (30s) so the balancer, not the client, gives up on a slow replica first."""
        self._url = base_url.rstrip("/") + "/v1/alerts"
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self._session = requests.Session()
        self._session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def __repr__(self) -> str:  # never the token
        return f"AlertClient({self._url!r}, max_retries={self.max_retries})"

    def __enter__(self) -> "AlertClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def send_batch(self, alerts: list[dict[str, Any]], idempotency_key: str) -> dict[str, Any]:
        """POST one batch; returns the service's result (received/created/duplicates/results)."""
        if not alerts:
            raise ValueError("send_batch needs at least one alert")
        # allow_nan=False: NaN is not JSON; failing here names the cause better than a 422.
        body = json.dumps({"alerts": alerts}, allow_nan=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "Idempotency-Key": _sf_string(idempotency_key)}
        attempt = 0
        while True:
            status, retry_after = None, None
            try:
                resp = self._session.post(self._url, data=body, headers=headers, timeout=self.timeout,
                                          allow_redirects=False)
            except _TRANSIENT_ERRORS as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return _json_result(resp)
                failure = f"HTTP {status}: {_server_message(resp)}"
                if status < 500 and status not in _RETRYABLE_4XX:
                    raise NonRetryableAlertError(
                        f"alerting service rejected batch {idempotency_key}: {failure}", status
                    )
                retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
            if attempt == self.max_retries:
                raise RetryableAlertError(
                    f"batch {idempotency_key} not delivered after {attempt + 1} attempts; last: {failure}", status
                )
            delay = self._delay(attempt, retry_after)
            log.warning("alert batch %s attempt %d failed (%s); retrying in %.2fs",
                        idempotency_key, attempt + 1, failure, delay)
            time.sleep(delay)
            attempt += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        # Exponential backoff with "equal jitter": grows every attempt, yet spreads clients out.
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _sf_string(value: str) -> str:
    # The draft defines the header as a Structured Field string: quoted, \ and " escaped.
    if not value or not all(0x20 <= ord(c) <= 0x7E for c in value):
        raise ValueError("an idempotency key must be non-empty printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _server_message(resp: requests.Response, limit: int = 1000) -> str:
    try:
        detail = resp.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # FastAPI validation errors: name each field at fault
        message = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg')}" if isinstance(e, dict) else str(e)
            for e in detail
        )
    elif detail is not None:
        message = str(detail)
    else:
        message = resp.text.strip() or resp.reason or ""
    return message[:limit]


def _json_result(resp: requests.Response) -> dict[str, Any]:
    try:
        result = resp.json()
    except ValueError:
        result = None
    if not isinstance(result, dict):
        # A 2xx that is not the service's answer (a misrouted proxy?) must not count as delivered.
        raise NonRetryableAlertError(f"unexpected HTTP {resp.status_code} response from {resp.url}", resp.status_code)
    return result
