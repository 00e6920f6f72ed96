"""Between protobuf messages and the dicts the REST API validates and answers with, so both
APIs share one validation (payloads.py, models.py) and one storage path (ingest.py, store.py)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from alerting_service.rpc.schema import pb

SCALAR_FIELDS = ("scan_id", "subject_id", "airport", "date", "match_probability", "match_weight",
                 "model_version", "photo_similarity", "group_id", "run_report_url")
OBJECT_FIELDS = ("evidence", "passenger", "subject")
_INT64 = 2**63


def scalar_value(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    return None if kind is None else getattr(value, kind)


def scalar(value: Any) -> Any:
    if value is None:
        return pb.Scalar()
    if isinstance(value, bool):
        return pb.Scalar(bool_value=value)
    if isinstance(value, int) and -_INT64 <= value < _INT64:
        return pb.Scalar(int_value=value)
    if isinstance(value, (int, float)):
        return pb.Scalar(number_value=float(value))
    return pb.Scalar(string_value=str(value))


def alert_to_dict(alert: Any) -> dict[str, Any]:
    """An Alert message as the JSON object REST would receive: only the fields it has."""
    out: dict[str, Any] = {name: getattr(alert, name) for name in SCALAR_FIELDS if alert.HasField(name)}
    for name in OBJECT_FIELDS:
        if alert.HasField(name):
            out[name] = {key: scalar_value(v) for key, v in getattr(alert, name).values.items()}
    return out


def alert_message(fields: dict[str, Any]) -> Any:
    """An alert dict (the pipeline's, or a stored row) as an Alert message."""
    alert = pb.Alert()
    for name in SCALAR_FIELDS:
        value = fields.get(name)
        if value is not None:
            setattr(alert, name, value.isoformat() if isinstance(value, dt.date) else value)
    for name in OBJECT_FIELDS:
        value = fields.get(name)
        if isinstance(value, dict):
            getattr(alert, name).SetInParent()  # present even when empty
            for key, v in value.items():
                getattr(alert, name).values[key].CopyFrom(scalar(v))
    return alert


def _timestamp(value: dt.datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def record_message(row: dict[str, Any]) -> Any:
    """A stored alert (store.py's row) as an AlertRecord."""
    record = pb.AlertRecord(alert_id=str(row["alert_id"]), alert=alert_message(row), status=row["status"],
                            review_status=row["review_status"], revision=row["revision"])
    for name in ("received_at", "reviewed_at", "updated_at", "withdrawn_at"):
        if row.get(name) is not None:
            getattr(record, name).CopyFrom(_timestamp(row[name]))
    for name in ("reviewed_by", "run_id", "withdrawn_by_run", "withdrawn_by_model"):
        if row.get(name) is not None:
            setattr(record, name, row[name])
    return record


def _loc(parts: list[Any]) -> list[Any]:
    return [pb.LocPart(index=p) if isinstance(p, int) else pb.LocPart(name=str(p)) for p in parts]


def field_errors(errors: list[dict[str, Any]]) -> list[Any]:
    return [pb.FieldError(loc=_loc(e.get("loc", [])), msg=e.get("msg", ""), type=e.get("type", "")) for e in errors]


def ingest_response(body: dict[str, Any], replayed: bool) -> Any:
    """ingest.py's answer (IngestResult as JSON, also what an idempotent replay stored)."""
    response = pb.SubmitAlertsResponse(
        received=body["received"], created=body["created"], updated=body.get("updated", 0),
        duplicates=body["duplicates"], refused=body.get("refused", 0), replayed=replayed,
        results=[pb.ItemResult(alert_id=str(r["alert_id"]), scan_id=r["scan_id"], subject_id=r["subject_id"],
                               created=r["created"], status=r["status"]) for r in body["results"]],
    )
    for r in body.get("refusals", []):
        refusal = response.refusals.add(index=r["index"], reason=r["reason"], errors=field_errors(r["errors"]))
        for name in ("scan_id", "subject_id"):
            if r.get(name) is not None:
                setattr(refusal, name, r[name])
    return response


def run_state_message(state: dict[str, Any]) -> Any:
    message = pb.RunState(date=str(state["date"]), run_id=state["run_id"], batches=state["batches"],
                          batches_done=state["batches_done"], complete=state["complete"],
                          superseded=state["superseded"], withdrawn=state["withdrawn"])
    if state.get("model_version") is not None:
        message.model_version = state["model_version"]
    return message
