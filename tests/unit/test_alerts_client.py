"""AlertClient against a real HTTP server on 127.0.0.1 that answers from a script, plus
the pure payload/idempotency-key/label functions."""
from __future__ import annotations

import datetime as dt
import email.utils
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from watchlist_screening.alerts import (
    MATCH,
    NON_MATCH,
    AlertClient,
    NonRetryableAlertError,
    RetryableAlertError,
    batch_idempotency_key,
    build_alert,
    latest_decisions,
)

TOKEN = "unit-test-token-Zx81"
ACCEPTED = {"received": 1, "created": 1, "duplicates": 0, "results": []}


@dataclass
class Reply:
    status: int = 202
    body: object = field(default_factory=lambda: ACCEPTED)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    at: float
    headers: dict[str, str]
    body: bytes
    path: str = "/v1/alerts"


class ScriptedServer:
    """Answers requests with the scripted replies in order (then 202) and records each request."""

    def __init__(self, replies: list[Reply], port: int = 0):
        self.replies = list(replies)
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.do_POST()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.seen.append(Seen(time.monotonic(), dict(self.headers), body, self.path))
                reply = server.replies.pop(0) if server.replies else Reply()
                time.sleep(reply.delay)
                payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        # A short poll interval keeps shutdown() (and so each test) fast.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def fast_client(url: str, **kwargs) -> AlertClient:
    options = {"max_retries": 4, "backoff_base": 0.01, "backoff_max": 0.05, "timeout": 5.0, **kwargs}
    return AlertClient(url, TOKEN, **options)


def an_alert(scan_id: str = "scan-1") -> dict:
    return {"scan_id": scan_id, "subject_id": "W-1", "airport": "LHR", "date": "2024-05-01",
            "match_probability": 0.99, "match_weight": 14.2, "model_version": "m-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- delivery and retries -------------------------------------------------------------

def test_sends_batch_with_bearer_token_and_quoted_idempotency_key():
    with ScriptedServer([]) as server, fast_client(server.url) as client:
        result = client.send_batch([an_alert()], "alerts-2024-05-01-00000-abc")
    assert result == ACCEPTED
    (request,) = server.seen
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Idempotency-Key"] == '"alerts-2024-05-01-00000-abc"'
    assert json.loads(request.body) == {"alerts": [an_alert()]}


def test_retries_503_then_succeeds_with_the_same_request():
    with ScriptedServer([Reply(503), Reply(503)]) as server, fast_client(server.url) as client:
        assert client.send_batch([an_alert()], "key-1") == ACCEPTED
    assert len(server.seen) == 3
    assert len({(s.body, s.headers["Idempotency-Key"]) for s in server.seen}) == 1


def test_retries_500_and_502():
    with ScriptedServer([Reply(500), Reply(502)]) as server, fast_client(server.url) as client:
        assert client.send_batch([an_alert()], "key-1") == ACCEPTED
    assert len(server.seen) == 3


def test_honours_retry_after_seconds_on_429():
    replies = [Reply(429, {"detail": "slow down"}, {"Retry-After": "1"})]
    with ScriptedServer(replies) as server, fast_client(server.url) as client:
        assert client.send_batch([an_alert()], "key-1") == ACCEPTED
    first, second = server.seen
    # The backoff alone would wait at most 0.05s.
    assert second.at - first.at >= 0.95


def test_honours_retry_after_http_date():
    in_two_seconds = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2),
                                                 usegmt=True)
    with ScriptedServer([Reply(503, headers={"Retry-After": in_two_seconds})]) as server, \
            fast_client(server.url) as client:
        client.send_batch([an_alert()], "key-1")
    first, second = server.seen
    assert second.at - first.at >= 0.9  # the date has whole-second precision


def test_retries_connection_refused_until_the_server_is_up():
    port = free_port()
    server = ScriptedServer([], port=port)
    starter = threading.Timer(0.4, server.thread.start)
    starter.start()
    try:
        with fast_client(f"http://127.0.0.1:{port}", max_retries=20, backoff_base=0.05, backoff_max=0.1) as client:
            started = time.monotonic()
            assert client.send_batch([an_alert()], "key-1") == ACCEPTED
            assert time.monotonic() - started >= 0.3  # it did wait for the server
    finally:
        starter.join()
        server.__exit__()
    assert len(server.seen) == 1


def test_retries_a_read_timeout():
    with ScriptedServer([Reply(delay=1.5)]) as server, fast_client(server.url, timeout=(1.0, 0.3)) as client:
        assert client.send_batch([an_alert()], "key-1") == ACCEPTED
    assert len(server.seen) == 2


def test_gives_up_with_a_retryable_error_after_max_retries():
    with ScriptedServer([Reply(503, {"detail": "database unavailable"})] * 10) as server, \
            fast_client(server.url, max_retries=3) as client:
        with pytest.raises(RetryableAlertError) as caught:
            client.send_batch([an_alert()], "key-1")
    assert len(server.seen) == 4
    assert caught.value.status == 503
    assert "database unavailable" in str(caught.value)


def test_connection_refused_for_good_is_a_retryable_error():
    with fast_client(f"http://127.0.0.1:{free_port()}", max_retries=2) as client:
        with pytest.raises(RetryableAlertError) as caught:
            client.send_batch([an_alert()], "key-1")
    assert caught.value.status is None
    assert "3 attempts" in str(caught.value)


def test_422_is_not_retried_and_names_the_field():
    detail = [{"loc": ["body", "batch", "alerts", 0, "match_probability"], "msg": "Input should be less than or equal to 1",
               "type": "less_than_equal"}]
    with ScriptedServer([Reply(422, {"detail": detail})]) as server, fast_client(server.url) as client:
        with pytest.raises(NonRetryableAlertError) as caught:
            client.send_batch([an_alert()], "key-1")
    assert len(server.seen) == 1
    assert caught.value.status == 422
    message = str(caught.value)
    assert "422" in message and "alerts.0.match_probability" in message and "less than or equal to 1" in message
    assert TOKEN not in message


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried_and_never_show_the_token(status):
    with ScriptedServer([Reply(status, {"detail": "invalid bearer token"})]) as server, \
            fast_client(server.url) as client:
        with pytest.raises(NonRetryableAlertError) as caught:
            client.send_batch([an_alert()], "key-1")
    assert len(server.seen) == 1
    assert caught.value.status == status
    assert "invalid bearer token" in str(caught.value)
    assert TOKEN not in str(caught.value) and TOKEN not in repr(client)


def test_a_2xx_that_is_not_json_is_not_counted_as_delivered():
    with ScriptedServer([Reply(200, body="<html>")]) as server, fast_client(server.url) as client:
        server.replies[0].headers["Content-Type"] = "text/html"
        with pytest.raises(NonRetryableAlertError):
            client.send_batch([an_alert()], "key-1")


def test_refuses_an_empty_batch_and_nan():
    client = fast_client("http://127.0.0.1:9")
    with pytest.raises(ValueError):
        client.send_batch([], "key-1")
    # NaN is not JSON: that alert is refused here, alone, and nothing is sent for it.
    result = client.send_batch([{**an_alert(), "match_weight": float("nan")}], "key-1")
    assert (result["received"], result["refused"]) == (1, 1)
    assert result["refusals"][0]["scan_id"] == "scan-1" and "JSON" in result["refusals"][0]["reason"]


def a_result(n: int, refusals: list[dict] | None = None) -> dict:
    refusals = refusals or []
    return {"received": n, "created": n - len(refusals), "updated": 0, "duplicates": 0, "refused": len(refusals),
            "results": [], "refusals": refusals}


def test_one_unsendable_alert_does_not_stop_the_others():
    alerts = [an_alert("a"), {**an_alert("b"), "match_weight": float("inf")}, an_alert("c")]
    refused_by_service = {"index": 1, "scan_id": "c", "subject_id": "W-1", "reason": "x: too long", "errors": []}
    with ScriptedServer([Reply(202, a_result(2, [refused_by_service]))]) as server, \
            fast_client(server.url) as client:
        result = client.send_batch(alerts, "key-1", run_id="run-1")
    (request,) = server.seen
    assert json.loads(request.body) == {"alerts": [an_alert("a"), an_alert("c")], "run_id": "run-1"}
    assert (result["received"], result["created"], result["refused"]) == (3, 1, 2)
    # Indices of refusals are the caller's, whichever request they came back from.
    assert [(r["index"], r["scan_id"]) for r in result["refusals"]] == [(1, "b"), (2, "c")]


def test_batches_are_cut_to_the_service_bounds_each_with_its_own_key(monkeypatch):
    from watchlist_screening.alerts import client as client_module

    monkeypatch.setattr(client_module, "MAX_REQUEST_BYTES", 40_000)
    alerts = [an_alert(f"s-{i}") for i in range(450)]
    big = [{**an_alert(f"big-{i}"), "subject": {"offence": "x" * 30_000}} for i in range(3)]
    for batch, sizes in ((alerts, [200, 200, 50]), (big, [1, 1, 1])):
        with ScriptedServer([Reply(202, a_result(n)) for n in sizes]) as server, fast_client(server.url) as client:
            result = client.send_batch(batch, "key-9")
        bodies = [json.loads(seen.body)["alerts"] for seen in server.seen]
        assert [len(b) for b in bodies] == sizes
        assert [a["scan_id"] for b in bodies for a in b] == [a["scan_id"] for a in batch]
        assert [seen.headers["Idempotency-Key"] for seen in server.seen] == [f'"key-9-p{n:03d}"' for n in range(3)]
        assert (result["received"], result["created"]) == (len(batch), len(batch))


def test_complete_run_posts_to_the_run_and_retries():
    state = {"complete": True, "withdrawn": 2}
    with ScriptedServer([Reply(503), Reply(200, state)]) as server, fast_client(server.url) as client:
        assert client.complete_run("2024-05-01", "manual__x+1~ab", "m-1", 3, 2) == state
    assert server.seen[-1].path == "/v1/days/2024-05-01/runs/manual__x%2B1~ab/complete"
    assert json.loads(server.seen[-1].body) == {"model_version": "m-1", "batches": 3, "batch": 2}


# --- payload -------------------------------------------------------------------------

def match_row(**overrides) -> dict:
    row = {
        "scan_id": "S-100", "subject_id": "W-7", "airport": "FRA", "scan_day": dt.date(2024, 5, 1),
        "match_probability": 0.987, "match_weight": 15.25, "model_version": "model-2024-04-30",
        "photo_similarity": 0.81, "evidence": {"face": 9.5, "surname": 2.25, "dob": None}, "group_id": 12,
        "passenger_given_names": "Ann", "passenger_surname": "Lee", "passenger_date_of_birth": dt.date(1980, 2, 3),
        "passenger_scanned_at": dt.datetime(2024, 5, 1, 7, 30, tzinfo=dt.timezone.utc),
        "passenger_height_cm": 171.0, "passenger_flight_number": None,
        "passenger_face_embedding": [0.1] * 128,
        "subject_given_names": "Anne", "subject_surname": "Leigh", "subject_offence": "fraud",
        "subject_face_embedding": [0.2] * 128,
    }
    row.update(overrides)
    return row


def test_build_alert_from_a_match_row():
    alert = build_alert(match_row(), run_report_url="file:///reports/2024-05-01.html")
    assert alert == {
        "scan_id": "S-100", "subject_id": "W-7", "airport": "FRA", "date": "2024-05-01",
        "match_probability": 0.987, "match_weight": 15.25, "model_version": "model-2024-04-30",
        "photo_similarity": 0.81, "group_id": "12",
        "evidence": {"face": 9.5, "surname": 2.25, "dob": None},
        "passenger": {"given_names": "Ann", "surname": "Lee", "date_of_birth": "1980-02-03",
                      "height_cm": 171.0, "scanned_at": "2024-05-01T07:30:00+00:00"},
        "subject": {"given_names": "Anne", "surname": "Leigh", "offence": "fraud"},
        "run_report_url": "file:///reports/2024-05-01.html",
    }
    json.dumps(alert, allow_nan=False)  # plain JSON, no dates or numpy left


def test_build_alert_leaves_out_absent_optionals_and_reads_evidence_text():
    row = match_row(photo_similarity=None, group_id=None, evidence='{"face": 3}')
    row = {k: v for k, v in row.items() if k == "subject_id" or not k.startswith(("passenger_", "subject_"))}
    alert = build_alert(row)
    assert alert["evidence"] == {"face": 3.0}
    assert not {"photo_similarity", "group_id", "passenger", "subject", "run_report_url"} & alert.keys()


def test_build_alert_never_carries_the_face_embedding():
    assert "embedding" not in json.dumps(build_alert(match_row()))


def test_build_alert_takes_a_timestamp_as_the_day():
    assert build_alert(match_row(scan_day=dt.datetime(2024, 5, 1)))["date"] == "2024-05-01"


def test_build_alert_names_missing_required_fields():
    with pytest.raises(ValueError, match="match_weight"):
        build_alert(match_row(match_weight=None))


# --- idempotency keys ----------------------------------------------------------------

def test_batch_key_is_deterministic():
    batch = [build_alert(match_row(scan_id=f"S-{i}")) for i in range(3)]
    rebuilt = [json.loads(json.dumps(a, sort_keys=True)) for a in batch]  # same content, other key order
    key = batch_idempotency_key(dt.date(2024, 5, 1), 3, batch)
    assert key == batch_idempotency_key("2024-05-01", 3, rebuilt)
    assert key.startswith("alerts-2024-05-01-00003-")
    assert len(key) <= 255 and key.isascii()


def test_batch_key_changes_with_day_index_and_content():
    batch = [build_alert(match_row())]
    key = batch_idempotency_key("2024-05-01", 0, batch)
    assert key != batch_idempotency_key("2024-05-02", 0, batch)
    assert key != batch_idempotency_key("2024-05-01", 1, batch)
    assert key != batch_idempotency_key("2024-05-01", 0, [build_alert(match_row(match_probability=0.5))])
    # The run travels in the request: another run's identical batch is another request.
    assert key != batch_idempotency_key("2024-05-01", 0, batch, "run-2") != batch_idempotency_key(
        "2024-05-01", 0, batch, "run-3")


# --- review labels --------------------------------------------------------------------

def a_label(review_id: int, scan_id: str = "S-1", decision: str = MATCH) -> dict:
    return {"review_id": review_id, "alert_id": "00000000-0000-5000-8000-000000000000", "scan_id": scan_id,
            "subject_id": "W-1", "date": "2024-05-01", "airport": "LHR", "model_version": "m-1",
            "match_probability": 0.9, "match_weight": 9.0, "decision": decision,
            "decided_at": "2024-05-01T10:00:00Z"}


def test_fetch_review_labels_follows_pages_from_the_cursor():
    replies = [
        Reply(200, [a_label(5), a_label(6)], {"Link": '</v1/reviews?since=6&limit=2>; rel="next"'}),
        Reply(503),  # a replica restarting between pages: retried like a batch
        Reply(200, [a_label(7)]),
    ]
    with ScriptedServer(replies) as server, fast_client(server.url) as client:
        labels, cursor = client.fetch_review_labels(since=4, page_size=2)
    assert [label["review_id"] for label in labels] == [5, 6, 7]
    assert cursor == 7
    assert [s.path for s in server.seen] == ["/v1/reviews?since=4&limit=2", "/v1/reviews?since=6&limit=2",
                                             "/v1/reviews?since=6&limit=2"]
    assert server.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_fetch_review_labels_with_nothing_new_keeps_the_cursor():
    with ScriptedServer([Reply(200, [])]) as server, fast_client(server.url) as client:
        assert client.fetch_review_labels(since=12) == ([], 12)


def test_fetch_review_labels_does_not_retry_a_forbidden_token():
    with ScriptedServer([Reply(403, {"detail": "this endpoint needs a reviewer or labels token"})]) as server, \
            fast_client(server.url) as client:
        with pytest.raises(NonRetryableAlertError, match="reviewer or labels"):
            client.fetch_review_labels()
    assert len(server.seen) == 1


def test_latest_decisions_keeps_the_last_decision_per_pair():
    labels = [a_label(9, "S-1", NON_MATCH), a_label(3, "S-1", MATCH), a_label(4, "S-2", "needs_info")]
    assert latest_decisions(labels) == {("S-1", "W-1"): NON_MATCH, ("S-2", "W-1"): "needs_info"}
