"""HTTP client of the alerting service: sends alert batches (POST /v1/alerts) and reads
reviewer decisions back as labels (GET /v1/reviews); retries what a retry can fix, fails
fast on what it cannot.

Retrying a POST is safe because every batch carries an Idempotency-Key and the service
keeps one alert per (scan_id, subject_id).

A batch is sent in requests of at most MAX_ALERTS_PER_REQUEST alerts and
MAX_REQUEST_BYTES bytes (the service refuses bigger ones with 413), and one alert the
service refuses (or that is not JSON) never stops the others: it comes back in the
result's `refusals` with its reason.
"""
from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import requests

from watchlist_screening.errors import PermanentError, ScreeningError

log = logging.getLogger(__name__)

# 408/409 are the client-side statuses a retry can fix: a slow upload, and (in the
# Idempotency-Key draft) "the first request with this key is still being processed".
_RETRYABLE_4XX = {408, 409, 429}
_TRANSIENT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
# The service's bounds are 200 alerts and 4 MiB per request; half its byte limit leaves
# room for whatever a proxy adds.
MAX_ALERTS_PER_REQUEST = 200
MAX_REQUEST_BYTES = 2 * 1024 * 1024
_COUNTS = ("received", "created", "updated", "duplicates", "refused")


class AlertDeliveryError(ScreeningError, RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RetryableAlertError(AlertDeliveryError):
    """Transient failures outlasted the retries; trying again later (e.g. an Airflow retry) may succeed."""


class NonRetryableAlertError(AlertDeliveryError, PermanentError):
    """The service rejected the request (bad payload, token, URL); sending it again cannot help."""


class BatchSender:
    """What the REST and the gRPC client share: a batch cut into requests by each alert's
    encoded size, the requests' answers merged into one in the caller's numbering, and an
    alert that cannot be encoded refused on its own (never the whole batch)."""

    unsendable = "not sendable"

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError

    def _encode(self, alert: dict[str, Any]) -> tuple[Any, str | bytes]:
        """(what a request carries, its encoded form for sizing); TypeError or ValueError
        when the alert cannot be encoded."""
        raise NotImplementedError

    def _submit(self, payloads: list, key: str, run_id: str | None, run_planned_at: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def send_batch(self, alerts: list[dict[str, Any]], idempotency_key: str,
                   run_id: str | None = None, run_planned_at: str | None = None) -> dict[str, Any]:
        """Send one batch; returns the service's result: received, created, updated,
        duplicates, refused, results (stored alerts) and refusals (index into `alerts`,
        scan_id, subject_id, reason, errors). `run_id` names the pipeline run sending it,
        planned at `run_planned_at` (ISO 8601; orders the day's runs). Raises
        RetryableAlertError when transient failures outlast the retries,
        NonRetryableAlertError (with the REST status, e.g. 410 for a superseded run) when the
        service refuses the request."""
        if not alerts:
            raise ValueError("send_batch needs at least one alert")
        payloads, sized, refusals = {}, [], []
        for index, alert in enumerate(alerts):
            try:
                payloads[index], encoded = self._encode(alert)
            except (TypeError, ValueError) as exc:
                refusals.append({"index": index, "scan_id": str(alert.get("scan_id")),
                                 "subject_id": str(alert.get("subject_id")),
                                 "reason": f"{self.unsendable}: {exc}", "errors": []})
            else:
                sized.append((index, encoded))
        parts = _requests_of(sized)
        merged: dict[str, Any] = {**{k: 0 for k in _COUNTS}, "results": [], "refusals": list(refusals)}
        for n, part in enumerate(parts):
            key = idempotency_key if len(parts) == 1 else f"{idempotency_key}-p{n:03d}"
            result = self._submit([payloads[i] for i, _ in part], key, run_id, run_planned_at)
            if len(parts) == 1 and not refusals:
                return result  # the service's own answer, as a replay of it would be
            for name in _COUNTS:
                merged[name] += int(result.get(name, 0) or 0)
            merged["results"] += result.get("results", [])
            # The service numbers refusals within its request; the caller's are batch-wide.
            merged["refusals"] += [{**r, "index": part[int(r["index"])][0]} for r in result.get("refusals", [])]
        merged["received"] += len(refusals)
        merged["refused"] += len(refusals)
        merged["refusals"].sort(key=lambda r: r["index"])
        return merged


class AlertClient(BatchSender):
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
        self._base = base_url.rstrip("/")
        self._url = self._base + "/v1/alerts"
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self._session = requests.Session()
        self._session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def __repr__(self) -> str:  # never the token
        return f"AlertClient({self._url!r}, max_retries={self.max_retries})"

    def close(self) -> None:
        self._session.close()

    unsendable = "not sendable as JSON"

    def _encode(self, alert: dict[str, Any]) -> tuple[str, str]:
        # allow_nan=False: NaN is not JSON; the service would refuse the whole body.
        text = json.dumps(alert, allow_nan=False)
        return text, text

    def _submit(self, payloads: list[str], key: str, run_id: str | None, run_planned_at: str | None) -> dict[str, Any]:
        body = '{"alerts": [' + ", ".join(payloads) + "]"
        run = {"run_id": run_id, "run_planned_at": run_planned_at} if run_id else {}
        body += "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in run.items() if v) + "}"
        headers = {"Content-Type": "application/json", "Idempotency-Key": _sf_string(key)}
        resp = self._request("POST", self._url, f"batch {key}", data=body.encode("utf-8"), headers=headers)
        return _json_result(resp, dict)

    def complete_run(self, day: str, run_id: str, model_version: str, batches: int,
                     batch: int | None = None, planned_at: str | None = None) -> dict[str, Any]:
        """Tell the service that batch `batch` of the run is delivered (None: only ask). Once
        all `batches` are (0 for a day without a match), it withdraws the day's alerts this
        run did not send. Idempotent, so retried like a GET."""
        url = f"{self._base}/v1/days/{quote(day, safe='')}/runs/{quote(run_id, safe='')}/complete"
        body = {"model_version": model_version, "batches": batches, "batch": batch}
        if planned_at:
            body["planned_at"] = planned_at
        resp = self._request("POST", url, f"completion of run {run_id} for {day}", json=body)
        return _json_result(resp, dict)

    def fetch_review_labels(self, since: int = 0, page_size: int = 1000) -> tuple[list[dict[str, Any]], int]:
        """Reviewer decisions made after review `since`, oldest first, and the cursor to pass
        as `since` next time (needs a reviewer or label-reader token).

        Each label names the pair (scan_id, subject_id), what the model said
        (match_probability, match_weight, model_version) and the decision: confirmed,
        false_positive or needs_info. A pair decided twice appears twice; the later decision
        stands (latest_decisions() folds them).
        """
        labels, cursor = [], since
        while True:
            resp = self._request("GET", self._base + "/v1/reviews", f"review labels after {cursor}",
                                 params={"since": cursor, "limit": page_size})
            page = _json_result(resp, list)
            labels.extend(page)
            if page:
                cursor = int(page[-1]["review_id"])
            if "next" not in resp.links:
                return labels, cursor

    def _request(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        """Send until a 2xx (returned), a final refusal (NonRetryableAlertError) or the last
        retry (RetryableAlertError); only callers whose request is safe to repeat use this."""
        attempt = 0
        while True:
            status, retry_after = None, None
            try:
                resp = self._session.request(method, url, timeout=self.timeout, allow_redirects=False, **kwargs)
            except _TRANSIENT_ERRORS as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return resp
                failure = f"HTTP {status}: {_server_message(resp)}"
                if status < 500 and status not in _RETRYABLE_4XX:
                    raise NonRetryableAlertError(f"alerting service rejected {what}: {failure}", status)
                retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
            if attempt == self.max_retries:
                raise RetryableAlertError(f"{what} not done after {attempt + 1} attempts; last: {failure}", status)
            delay = self._delay(attempt, retry_after)
            log.warning("%s attempt %d failed (%s); retrying in %.2fs", what, attempt + 1, failure, delay)
            time.sleep(delay)
            attempt += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        # Exponential backoff with "equal jitter": grows every attempt, yet spreads clients out.
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _requests_of(encoded: list[tuple[int, str | bytes]]) -> list[list[tuple[int, str | bytes]]]:
    """(index, encoded alert) of each alert cut into requests within the service's bounds."""
    parts: list[list[tuple[int, str | bytes]]] = []
    size = 0
    for item in encoded:
        if not parts or len(parts[-1]) >= MAX_ALERTS_PER_REQUEST or size + len(item[1]) + 2 > MAX_REQUEST_BYTES:
            parts.append([])
            size = 64
        parts[-1].append(item)
        size += len(item[1]) + 2
    return parts


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


def _json_result(resp: requests.Response, expected: type) -> Any:
    try:
        result = resp.json()
    except ValueError:
        result = None
    if not isinstance(result, expected):
        # A 2xx that is not the service's answer (a misrouted proxy?) must not count as done.
        raise NonRetryableAlertError(f"unexpected HTTP {resp.status_code} response from {resp.url}", resp.status_code)
    return result
