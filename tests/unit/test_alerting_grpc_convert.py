"""The gRPC API's conversions (service/alerting_service/rpc/convert.py and the pipeline's
alerts/grpc_transport.py): what the pipeline encodes reaches the service's validation as the
JSON object REST would have received, and the service's answers come back in REST's shape."""
from __future__ import annotations

import datetime as dt
import uuid

import grpc
import pytest

from alerting_service.rpc import convert
from alerting_service.rpc.calls import _client_key
from watchlist_screening.alerts import grpc_transport

ALERT = {"scan_id": "S-1", "subject_id": "W-1", "airport": "LHR", "date": "2060-01-02",
         "match_probability": 0.97, "match_weight": 11.5, "model_version": "m", "photo_similarity": -0.25,
         "group_id": "g", "evidence": {"face": 9.0, "surname": None}, "passenger": {},
         "subject": {"surname": "Lee", "height_cm": 171, "wanted": True, "weight": 70.5, "alias": None},
         "run_report_url": "http://x/r#a"}


def test_an_alert_crosses_the_wire_as_the_json_rest_receives():
    assert convert.alert_to_dict(grpc_transport.alert_message(ALERT)) == ALERT
    # absent stays absent (refused as missing by the same validation), not 0 or ""
    sparse = {"scan_id": "S-2", "match_probability": 0.0}
    assert convert.alert_to_dict(grpc_transport.alert_message(sparse)) == sparse


def test_what_a_message_cannot_carry_is_refused_before_sending():
    with pytest.raises(ValueError, match="unknown field"):
        grpc_transport.alert_message({**ALERT, "extra": 1})
    with pytest.raises(TypeError):
        grpc_transport.alert_message({**ALERT, "passenger": {"names": ["a", "b"]}})
    with pytest.raises(TypeError):
        grpc_transport.alert_message({**ALERT, "match_probability": "0.9"})


def test_a_stored_alert_as_a_record():
    now = dt.datetime(2060, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    row = {**ALERT, "date": dt.date(2060, 1, 2), "alert_id": uuid.uuid4(), "received_at": now, "status": "withdrawn",
           "review_status": "confirmed", "reviewed_by": None, "reviewed_at": None, "run_id": "r~1", "revision": 2,
           "updated_at": now, "withdrawn_at": now, "withdrawn_by_run": "r~2", "withdrawn_by_model": None}
    record = convert.record_message(row)
    assert convert.alert_to_dict(record.alert) == ALERT
    assert record.received_at.ToDatetime(dt.timezone.utc) == now
    assert not record.HasField("reviewed_at") and not record.HasField("withdrawn_by_model")
    assert (record.status, record.review_status, record.withdrawn_by_run) == ("withdrawn", "confirmed", "r~2")


def test_the_service_answer_comes_back_in_the_rest_shape():
    body = {"received": 3, "created": 1, "updated": 0, "duplicates": 1, "refused": 1,
            "results": [{"alert_id": str(uuid.uuid4()), "scan_id": "a", "subject_id": "b", "created": True,
                         "status": "created"},
                        {"alert_id": str(uuid.uuid4()), "scan_id": "a", "subject_id": "c", "created": False,
                         "status": "duplicate"}],
            "refusals": [{"index": 2, "scan_id": None, "subject_id": "d", "reason": "scan_id: Field required",
                          "errors": [{"loc": ["scan_id"], "msg": "Field required", "type": "missing"},
                                     {"loc": ["evidence", 3], "msg": "x", "type": "y"}]}]}
    assert grpc_transport.result_dict(convert.ingest_response(body, replayed=False)) == body


@pytest.mark.parametrize(("peer", "metadata", "trusted", "key"), [
    ("ipv4:10.0.0.5:4000", {}, "127.0.0.1", "addr-10.0.0.5"),
    ("ipv4:127.0.0.1:4000", {"x-forwarded-for": "1.2.3.4, 5.6.7.8"}, "127.0.0.1", "addr-5.6.7.8"),
    ("ipv4:10.0.0.5:4000", {"x-forwarded-for": "5.6.7.8"}, "127.0.0.1", "addr-10.0.0.5"),  # untrusted peer
    ("ipv6:[::1]:4000", {"x-forwarded-for": "not an address"}, "*", "addr-::1"),
])
def test_rate_limit_key_of_a_call(peer, metadata, trusted, key):
    class Context:
        def peer(self):
            return peer

    assert _client_key(Context(), metadata, trusted) == key


def test_transport_maps_refusals_to_the_rest_statuses_the_fan_out_reads():
    assert grpc_transport.HTTP_STATUS[grpc.StatusCode.FAILED_PRECONDITION] == 410
    assert grpc_transport.HTTP_STATUS[grpc.StatusCode.INVALID_ARGUMENT] == 422
