"""gRPC transport to the alerting service (service/proto/watchlist/alerts/v1/alerts.proto):
the same batches, retries, results and errors as the REST client (client.py), so the
fan-out can send over either (WATCHLIST_ALERT_TRANSPORT=grpc).

    with GrpcAlertClient("127.0.0.1:8089", token) as client:
        result = client.send_batch(alerts, idempotency_key, run_id, run_planned_at)

Retrying is safe for the same reasons as over REST: every request carries an idempotency
key and the service keeps one alert per (scan_id, subject_id). A batch is cut into requests
of at most MAX_ALERTS_PER_REQUEST alerts and MAX_REQUEST_BYTES bytes (key `<key>-pNNN` per
part, as REST does), and an alert that cannot be encoded, or that the service refuses, comes
back in the result's `refusals` with its reason without stopping the others.

The messages are compiled from the service's .proto when this module is imported (grpcio-tools,
in memory): the pipeline and the service read one file, and no generated code is kept.
"""
from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from pathlib import Path
from typing import Any

import grpc

from watchlist_screening.alerts.client import (
    MAX_ALERTS_PER_REQUEST,
    MAX_REQUEST_BYTES,
    AlertClient,
    BatchSender,
    NonRetryableAlertError,
    RetryableAlertError,
)

log = logging.getLogger(__name__)

# include/watchlist_screening/alerts/ -> the repository (the Airflow image holds the whole
# project at /opt/airflow/project, and compose mounts service/proto there as well).
PROTO_ROOT = Path(__file__).resolve().parents[3] / "service" / "proto"
PROTO_FILE = "watchlist/alerts/v1/alerts.proto"


def _load() -> tuple[Any, Any]:
    sys.path.insert(0, str(PROTO_ROOT))
    try:
        return grpc.protos_and_services(PROTO_FILE)
    finally:
        sys.path.remove(str(PROTO_ROOT))


pb, services = _load()

# What REST would have answered, for NonRetryableAlertError.status and the callers that
# look at it (the fan-out treats 410, a superseded run, as "skip this batch").
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 422, grpc.StatusCode.ALREADY_EXISTS: 422,
    grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.FAILED_PRECONDITION: 410,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504, grpc.StatusCode.UNIMPLEMENTED: 501,
}
# What a retry can fix: a replica or the database away (UNAVAILABLE), a slow call, a
# server error (REST retries its 5xx too), and a rate limit.
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
              grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED}
_SCALAR_FIELDS = ("scan_id", "subject_id", "airport", "date", "match_probability", "match_weight",
                  "model_version", "photo_similarity", "group_id", "run_report_url")
_OBJECT_FIELDS = ("evidence", "passenger", "subject")
_INT64 = 2**63


def _scalar(value: Any) -> Any:
    if value is None:
        return pb.Scalar()
    if isinstance(value, bool):
        return pb.Scalar(bool_value=value)
    if isinstance(value, int) and -_INT64 <= value < _INT64:
        return pb.Scalar(int_value=value)
    if isinstance(value, (int, float)):
        return pb.Scalar(number_value=float(value))
    if isinstance(value, str):
        return pb.Scalar(string_value=value)
    raise TypeError(f"{type(value).__name__} is not a scalar")


def alert_message(alert: dict[str, Any]) -> Any:
    """The pipeline's alert dict (payload.build_alert) as an Alert message; raises
    ValueError/TypeError for what the message cannot carry (the REST client's "not JSON")."""
    unknown = set(alert) - set(_SCALAR_FIELDS) - set(_OBJECT_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    message = pb.Alert()
    for name in _SCALAR_FIELDS:
        value = alert.get(name)
        if value is not None:
            setattr(message, name, value.isoformat() if isinstance(value, dt.date) else value)
    for name in _OBJECT_FIELDS:
        value = alert.get(name)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise TypeError(f"{name} must be an object")
        getattr(message, name).SetInParent()  # present even when empty
        for key, item in value.items():
            getattr(message, name).values[str(key)].CopyFrom(_scalar(item))
    return message


def _loc(parts: Any) -> list[Any]:
    return [p.index if p.WhichOneof("part") == "index" else p.name for p in parts]


def result_dict(response: Any) -> dict[str, Any]:
    """A SubmitAlertsResponse as the REST API's answer (IngestResult as JSON)."""
    return {
        "received": response.received, "created": response.created, "updated": response.updated,
        "duplicates": response.duplicates, "refused": response.refused,
        "results": [{"alert_id": r.alert_id, "scan_id": r.scan_id, "subject_id": r.subject_id,
                     "created": r.created, "status": r.status} for r in response.results],
        "refusals": [{"index": r.index,
                      "scan_id": r.scan_id if r.HasField("scan_id") else None,
                      "subject_id": r.subject_id if r.HasField("subject_id") else None,
                      "reason": r.reason,
                      "errors": [{"loc": _loc(e.loc), "msg": e.msg, "type": e.type} for e in r.errors]}
                     for r in response.refusals],
    }


def _run_state(state: Any) -> dict[str, Any]:
    return {"date": state.date, "run_id": state.run_id,
            "model_version": state.model_version if state.HasField("model_version") else None,
            "batches": state.batches, "batches_done": state.batches_done, "complete": state.complete,
            "superseded": state.superseded, "withdrawn": state.withdrawn}


class GrpcAlertClient(BatchSender):
    def __init__(
        self,
        target: str,
        token: str,
        *,
        timeout: float = 65.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 120.0,
        credentials: grpc.ChannelCredentials | None = None,
    ):
        """`target` is host:port of the service's gRPC balancer; `timeout` each call's
        deadline in seconds (beyond the balancer's own retry budget, 30s, as over REST);
        `credentials` for TLS, else plaintext (the balancer is on the host's network)."""
        self.target = target
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self._metadata = (("authorization", f"Bearer {token}"),)
        options = [("grpc.max_send_message_length", 2 * MAX_REQUEST_BYTES),
                   ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                   # Retries are this client's own (with the idempotency key): one policy.
                   ("grpc.enable_retries", 0)]
        self._channel = (grpc.secure_channel(target, credentials, options) if credentials
                         else grpc.insecure_channel(target, options))
        self._stub = services.AlertsStub(self._channel)

    def __repr__(self) -> str:  # never the token
        return f"GrpcAlertClient({self.target!r}, max_retries={self.max_retries})"

    def close(self) -> None:
        self._channel.close()

    unsendable = "not sendable over gRPC"

    def _encode(self, alert: dict[str, Any]):
        message = alert_message(alert)
        # cut as the REST client cuts, by each alert's encoded size
        return message, message.SerializeToString()

    def _submit(self, payloads: list, key: str, run_id: str | None, run_planned_at: str | None) -> dict[str, Any]:
        request = pb.SubmitAlertsRequest(alerts=payloads, idempotency_key=key)
        if run_id:
            request.run_id = run_id
            if run_planned_at:
                request.run_planned_at = run_planned_at
        return result_dict(self._call("SubmitAlerts", request, f"batch {key}"))

    def complete_run(self, day: str, run_id: str, model_version: str, batches: int,
                     batch: int | None = None, planned_at: str | None = None) -> dict[str, Any]:
        """AlertClient.complete_run over gRPC (the same arguments, the same answer)."""
        request = pb.CompleteRunRequest(date=day, run_id=run_id, model_version=model_version, batches=batches)
        if batch is not None:
            request.batch = batch
        if planned_at:
            request.planned_at = planned_at
        return _run_state(self._call("CompleteRun", request, f"completion of run {run_id} for {day}"))

    def _call(self, method: str, request: Any, what: str) -> Any:
        """Call until an answer (returned), a final refusal (NonRetryableAlertError) or the
        last retry (RetryableAlertError); only for calls that are safe to repeat."""
        attempt = 0
        while True:
            try:
                return getattr(self._stub, method)(request, timeout=self.timeout, metadata=self._metadata)
            except grpc.RpcError as exc:
                code = exc.code()
                status = HTTP_STATUS.get(code, 500)
                failure = f"{code.name}: {exc.details()}"
                retry_after = _retry_after(exc)
                # RESOURCE_EXHAUSTED is a rate limit (with retry-after), or a message over
                # the size limit (without), which no retry fixes.
                if code not in _RETRYABLE and not (code == grpc.StatusCode.RESOURCE_EXHAUSTED and retry_after):
                    raise NonRetryableAlertError(f"alerting service rejected {what}: {failure}", status) from None
            if attempt == self.max_retries:
                raise RetryableAlertError(f"{what} not done after {attempt + 1} attempts; last: {failure}", status)
            delay = AlertClient._delay(self, attempt, retry_after)  # type: ignore[arg-type]
            log.warning("%s attempt %d failed (%s); retrying in %.2fs", what, attempt + 1, failure, delay)
            time.sleep(delay)
            attempt += 1


def _retry_after(exc: grpc.RpcError) -> float | None:
    for key, value in (exc.trailing_metadata() or ()) if hasattr(exc, "trailing_metadata") else ():
        if key == "retry-after" and str(value).isdigit():
            return float(value)
    return None


def send_batch(target: str, token: str, alerts: list[dict[str, Any]], idempotency_key: str,
               run_id: str | None = None, run_planned_at: str | None = None, **options: Any) -> dict[str, Any]:
    """One batch over gRPC with a client of its own: GrpcAlertClient.send_batch."""
    with GrpcAlertClient(target, token, **options) as client:
        return client.send_batch(alerts, idempotency_key, run_id, run_planned_at)
