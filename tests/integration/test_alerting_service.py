"""The alerting service as deployed: real replicas (subprocesses) on a real PostgreSQL
database (this session's throw-away one). Failover through the balancer and database
restarts are in test_alerting_resilience.py, fuzzing in test_alerting_fuzz.py."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg.conninfo import conninfo_to_dict

from watchlist_screening.alerts import AlertClient, latest_decisions

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_TOKEN, ROTATED_PIPELINE_TOKEN = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
REVIEWER_TOKEN, LABEL_TOKEN = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
CONTRACT_FIELDS = {"scan_id", "subject_id", "airport", "date", "match_probability", "match_weight",
                   "model_version", "received_at", "alert_id", "status"}
_days = itertools.count()


def fresh_day() -> str:
    """A passenger day no other test of this session uses, so GET ?date= sees only this test's alerts."""
    return (dt.date(2031, 1, 1) + dt.timedelta(days=next(_days))).isoformat()


def an_alert(scan_id: str, subject_id: str = "W-1", day: str = "2031-01-01", **fields) -> dict:
    return {"scan_id": scan_id, "subject_id": subject_id, "airport": "LHR", "date": day,
            "match_probability": 0.97, "match_weight": 13.5, "model_version": "model-1", **fields}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    """One `python -m alerting_service` process, as scripts/alerting.sh runs it."""

    def __init__(self, dsn: str, log_path: Path, **extra_env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
        env.update(
            ALERTS_DB_DSN=dsn,
            ALERTS_PIPELINE_TOKENS=f"{PIPELINE_TOKEN},{ROTATED_PIPELINE_TOKEN}",
            ALERTS_REVIEWER_TOKENS=REVIEWER_TOKEN,
            ALERTS_LABEL_TOKEN=LABEL_TOKEN,
            ALERTS_DB_POOL_TIMEOUT_SECONDS="2",
            ALERTS_DB_WAIT_SECONDS="15",
        )
        env.update(extra_env)
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "alerting_service", "--host", "127.0.0.1", "--port", str(self.port),
                 "--shutdown-timeout", "5"],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"replica did not start:\n{log_path.read_text()}")
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def terminate(self) -> None:
        """SIGTERM, as an orchestrator (or scripts/alerting.sh stop) would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Terminate and check the shutdown was graceful."""
        self.terminate()
        code = self.proc.wait(timeout=30)
        # uvicorn re-raises the SIGTERM it handled once shutdown is complete.
        assert code in (0, -signal.SIGTERM), self.log_path.read_text()
        assert "Application shutdown complete" in self.log_path.read_text()


@pytest.fixture(scope="module")
def replicas(alerts_db_dsn, tmp_path_factory):
    logs = tmp_path_factory.mktemp("replicas")
    started = [Replica(alerts_db_dsn, logs / f"replica-{i}.log") for i in range(2)]
    yield started
    for replica in started:
        replica.stop()


def post(base: str, body, *, token: str = PIPELINE_TOKEN, key: str | None = None,
         request_id: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    return requests.post(f"{base}/v1/alerts", json=body, headers=headers, timeout=30)


def get(base: str, path: str = "/v1/alerts", *, token: str = REVIEWER_TOKEN, **params) -> requests.Response:
    return requests.get(f"{base}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def patch(base: str, alert_id: str, body, *, token: str = REVIEWER_TOKEN) -> requests.Response:
    return requests.patch(f"{base}/v1/alerts/{alert_id}", json=body,
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)


def created_id(base: str, alert: dict) -> str:
    response = post(base, alert)
    assert response.status_code == 202, response.text
    return response.json()["results"][0]["alert_id"]


def stored_pairs(dsn: str, scan_id_prefix: str) -> Counter:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT scan_id, subject_id FROM alerts.alerts WHERE scan_id LIKE %s",
                            [scan_id_prefix + "%"]).fetchall()
    return Counter(rows)


# --- health ---------------------------------------------------------------------------

def test_healthz_and_readyz_need_no_token(replicas):
    for replica in replicas:
        assert requests.get(f"{replica.url}/healthz", timeout=5).json() == {"status": "ok"}
        assert requests.get(f"{replica.url}/readyz", timeout=5).status_code == 200


def test_readyz_turns_503_when_the_database_goes_away(stack_db, tmp_path):
    """Readiness follows the database; POSTs answer 503 + Retry-After; SIGTERM still exits cleanly."""
    from tests.conftest import migrated_database

    base_dsn = stack_db["ALERTS_DB_DSN"]
    with migrated_database(base_dsn, "alerts") as dsn:
        replica = Replica(dsn, tmp_path / "replica.log")
        try:
            assert requests.get(f"{replica.url}/readyz", timeout=10).status_code == 200
            with psycopg.connect(base_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{conninfo_to_dict(dsn)["dbname"]}" WITH (FORCE)')
            assert requests.get(f"{replica.url}/readyz", timeout=10).status_code == 503
            assert requests.get(f"{replica.url}/healthz", timeout=5).status_code == 200  # alive, not ready
            refused = post(replica.url, an_alert("gone-1"))
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
        finally:
            replica.stop()


def test_sigterm_lets_an_in_flight_request_finish(alerts_db_dsn, tmp_path):
    replica = Replica(alerts_db_dsn, tmp_path / "replica.log")
    with ThreadPoolExecutor(1) as pool, psycopg.connect(alerts_db_dsn) as blocker:
        # Holding this lock keeps the next POST waiting inside the replica.
        blocker.execute("LOCK TABLE alerts.alerts IN EXCLUSIVE MODE")
        in_flight = pool.submit(post, replica.url, an_alert("graceful-1"))
        time.sleep(0.5)
        replica.terminate()
        time.sleep(0.5)
        assert replica.proc.poll() is None  # still waiting for the request
        blocker.rollback()
        assert in_flight.result().status_code == 202
    replica.stop()
    assert stored_pairs(alerts_db_dsn, "graceful-1") == {("graceful-1", "W-1"): 1}


# --- POST -----------------------------------------------------------------------------

def test_single_alert_is_stored_with_all_its_fields(replicas):
    day = fresh_day()
    alert = an_alert(
        "single-1", day=day, photo_similarity=0.83, group_id="g-4",
        evidence={"face": 9.1, "surname": 1.5, "dob": None},
        passenger={"given_names": "Ann", "surname": "Lee", "date_of_birth": "1980-02-03"},
        subject={"given_names": "Anne", "surname": "Leigh", "offence": "fraud"},
        run_report_url="file:///reports/x.html",
    )
    response = post(replicas[0].url, alert)
    assert response.status_code == 202
    body = response.json()
    assert (body["received"], body["created"], body["duplicates"]) == (1, 1, 0)
    (item,) = body["results"]
    assert item["created"] is True and item["status"] == "created"

    stored = get(replicas[1].url, f"/v1/alerts/{item['alert_id']}")
    assert stored.status_code == 200
    record = stored.json()
    assert {k: record[k] for k in alert} == alert
    assert record["alert_id"] == item["alert_id"]
    assert dt.datetime.fromisoformat(record["received_at"]).tzinfo is not None


def test_batch_reports_each_item_and_collapses_repeats_inside_it(replicas):
    day = fresh_day()
    batch = [an_alert("batch-1", day=day), an_alert("batch-2", day=day), an_alert("batch-1", day=day)]
    response = post(replicas[0].url, {"alerts": batch})
    assert response.status_code == 202
    body = response.json()
    assert (body["received"], body["created"], body["duplicates"]) == (3, 2, 1)
    assert [r["status"] for r in body["results"]] == ["created", "created", "duplicate"]
    assert body["results"][0]["alert_id"] == body["results"][2]["alert_id"]
    assert len(get(replicas[0].url, date=day).json()) == 2


def test_the_same_pair_on_two_replicas_is_one_alert(replicas, alerts_db_dsn):
    first = post(replicas[0].url, an_alert("pair-1")).json()["results"][0]
    again = post(replicas[1].url, an_alert("pair-1")).json()["results"][0]
    newer = post(replicas[1].url, an_alert("pair-1", model_version="model-2")).json()["results"][0]
    assert first["created"] is True
    assert again["created"] is False and again["status"] == "duplicate"
    # New content for the pair (a re-run's model) updates the one alert, never adds one.
    assert newer["created"] is False and newer["status"] == "updated"
    assert again["alert_id"] == first["alert_id"] == newer["alert_id"]
    assert stored_pairs(alerts_db_dsn, "pair-1") == {("pair-1", "W-1"): 1}
    record = get(replicas[0].url, f"/v1/alerts/{first['alert_id']}").json()
    assert (record["model_version"], record["revision"]) == ("model-2", 2)
    (earlier,) = get(replicas[0].url, f"/v1/alerts/{first['alert_id']}/revisions").json()
    assert (earlier["revision"], earlier["change"], earlier["record"]["model_version"]) == (1, "updated", "model-1")


def test_concurrent_resends_across_replicas_create_each_alert_once(replicas, alerts_db_dsn):
    batch = {"alerts": [an_alert(f"race-{i}", subject_id=f"W-{i % 3}") for i in range(25)]}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda n: post(replicas[n % 2].url, batch), range(16)))
    assert {r.status_code for r in responses} == {202}
    assert sum(r.json()["created"] for r in responses) == 25
    assert set(stored_pairs(alerts_db_dsn, "race-").values()) == {1}
    assert len(stored_pairs(alerts_db_dsn, "race-")) == 25


# --- Idempotency-Key ------------------------------------------------------------------

def test_idempotency_key_replays_the_first_response_on_any_replica(replicas):
    batch = {"alerts": [an_alert("idem-1"), an_alert("idem-2")]}
    first = post(replicas[0].url, batch, key='"idem-key-1"')
    replay = post(replicas[1].url, batch, key="idem-key-1")  # bare and quoted forms are one key
    assert first.status_code == replay.status_code == 202
    assert replay.content == first.content
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert replay.json()["created"] == 2  # the stored first response, not a fresh "duplicate" answer


def test_idempotency_key_reused_for_another_payload_is_422(replicas, alerts_db_dsn):
    assert post(replicas[0].url, an_alert("reuse-1"), key="idem-key-2").status_code == 202
    reused = post(replicas[1].url, an_alert("reuse-2"), key="idem-key-2")
    assert reused.status_code == 422
    assert "Idempotency-Key" in reused.json()["detail"] and "different" in reused.json()["detail"]
    assert stored_pairs(alerts_db_dsn, "reuse-2") == Counter()


def test_concurrent_requests_with_one_key_are_processed_once(replicas):
    batch = {"alerts": [an_alert(f"samekey-{i}") for i in range(10)]}
    barrier = threading.Barrier(6)

    def send(n):
        barrier.wait()
        return post(replicas[n % 2].url, batch, key="idem-key-3")

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(send, range(6)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.content for r in responses}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "schlüssel"])
def test_malformed_idempotency_key_is_400(replicas, key):
    response = requests.post(
        f"{replicas[0].url}/v1/alerts", json=an_alert("badkey-1"),
        headers={"Authorization": f"Bearer {PIPELINE_TOKEN}", "Idempotency-Key": key.encode()}, timeout=10,
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]


# --- validation -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "loc", "error"),
    [
        (an_alert("v-1", match_probability=1.5), ["body", "alert", "match_probability"], "less_than_equal"),
        (an_alert("v-1", match_probability="0.9"), ["body", "alert", "match_probability"], "float_type"),
        (an_alert("v-1", date="2031-1-5"), ["body", "alert", "date"], "date_format"),
        (an_alert("v-1", airport="lhr"), ["body", "alert", "airport"], "string_pattern_mismatch"),
        (an_alert("v-1", matchprobability=0.9), ["body", "alert", "matchprobability"], "extra_forbidden"),
        ({"alerts": []}, ["body", "batch", "alerts"], "too_short"),
        ({"alerts": "v-1"}, ["body", "batch", "alerts"], "list_type"),
        ({"alerts": [an_alert("v-1")], "extra": 1}, ["body", "batch", "extra"], "extra_forbidden"),
        ({"alerts": [an_alert(f"v-{i}") for i in range(201)]}, ["body", "batch", "alerts"], "too_long"),
    ],
)
def test_invalid_payload_is_422_naming_the_field(replicas, alerts_db_dsn, body, loc, error):
    response = post(replicas[0].url, body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [loc, error] in [[e["loc"], e["type"]] for e in errors]
    assert stored_pairs(alerts_db_dsn, "v-") == Counter()


def test_malformed_json_is_422(replicas):
    response = requests.post(f"{replicas[0].url}/v1/alerts", data=b'{"scan_id": ',
                             headers={"Authorization": f"Bearer {PIPELINE_TOKEN}",
                                      "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


# --- GET ------------------------------------------------------------------------------

def test_list_filters_by_day_and_airport_newest_first_with_pagination(replicas):
    day, other_day = fresh_day(), fresh_day()
    sent = [an_alert("list-1", day=day), an_alert("list-2", day=day, airport="CDG"),
            an_alert("list-3", day=day), an_alert("list-4", day=other_day)]
    for alert in sent:  # one request each: received_at increases
        assert post(replicas[0].url, alert).status_code == 202

    listed = get(replicas[1].url, date=day)
    assert listed.status_code == 200
    items = listed.json()
    assert [i["scan_id"] for i in items] == ["list-3", "list-2", "list-1"]
    for item in items:
        assert CONTRACT_FIELDS <= item.keys()
        assert item["date"] == day
        assert 0 <= item["match_probability"] <= 1
    received = [dt.datetime.fromisoformat(i["received_at"]) for i in items]
    assert received == sorted(received, reverse=True)
    assert "Link" not in listed.headers

    assert [i["scan_id"] for i in get(replicas[0].url, date=day, airport="LHR").json()] == ["list-3", "list-1"]
    first_page = get(replicas[0].url, date=day, limit=2)
    assert [i["scan_id"] for i in first_page.json()] == ["list-3", "list-2"]
    next_page = get(replicas[0].url, first_page.links["next"]["url"])  # a relative link
    assert [i["scan_id"] for i in next_page.json()] == ["list-1"]
    assert "next" not in next_page.links
    assert [i["scan_id"] for i in get(replicas[0].url, date=other_day).json()] == ["list-4"]
    assert get(replicas[0].url, date=fresh_day()).json() == []


@pytest.mark.parametrize("params", [{"date": "2031-13-01"}, {"date": "yesterday"}, {"limit": 0},
                                    {"limit": 10_001}, {"offset": -1}, {"airport": "heathrow"}])
def test_list_rejects_bad_query_parameters(replicas, params):
    assert get(replicas[0].url, **params).status_code == 422


def test_get_one_alert_404_and_422(replicas):
    assert get(replicas[0].url, f"/v1/alerts/{uuid.uuid4()}").status_code == 404
    assert get(replicas[0].url, "/v1/alerts/not-a-uuid").status_code == 422


# --- auth -----------------------------------------------------------------------------

def test_requests_without_a_valid_token_are_401(replicas):
    base = replicas[0].url
    for response in (
        requests.post(f"{base}/v1/alerts", json=an_alert("auth-1"), timeout=10),
        requests.get(f"{base}/v1/alerts", timeout=10),
        post(base, an_alert("auth-1"), token="not-a-token"),
        get(base, token="not-a-token"),
        requests.get(f"{base}/v1/alerts", headers={"Authorization": f"Basic {REVIEWER_TOKEN}"}, timeout=10),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_each_role_may_only_do_its_own_job(replicas):
    base = replicas[0].url
    assert post(base, an_alert("auth-2"), token=REVIEWER_TOKEN).status_code == 403
    assert get(base, token=PIPELINE_TOKEN).status_code == 403
    assert get(base, f"/v1/alerts/{uuid.uuid4()}", token=PIPELINE_TOKEN).status_code == 403
    assert post(base, an_alert("auth-3"), token=ROTATED_PIPELINE_TOKEN).status_code == 202


def test_tokens_never_reach_the_logs(replicas):
    post(replicas[0].url, an_alert("auth-4"), token="wrong-token-in-log-check")
    time.sleep(0.2)
    log = replicas[0].log_path.read_text()
    assert '"path": "/v1/alerts"' in log
    for token in (PIPELINE_TOKEN, REVIEWER_TOKEN, "wrong-token-in-log-check"):
        assert token not in log


def test_label_token_may_only_read_labels(replicas):
    base = replicas[0].url
    alert_id = created_id(base, an_alert("auth-5"))
    assert get(base, "/v1/reviews", token=LABEL_TOKEN).status_code == 200
    assert get(base, token=LABEL_TOKEN).status_code == 403
    assert get(base, f"/v1/alerts/{alert_id}", token=LABEL_TOKEN).status_code == 403
    assert patch(base, alert_id, {"decision": "confirmed", "reviewer": "x"}, token=LABEL_TOKEN).status_code == 403
    assert post(base, an_alert("auth-6"), token=LABEL_TOKEN).status_code == 403
    assert patch(base, alert_id, {"decision": "confirmed", "reviewer": "x"}, token=PIPELINE_TOKEN).status_code == 403
    assert get(base, "/v1/reviews", token=PIPELINE_TOKEN).status_code == 403
    unauthenticated = requests.patch(f"{base}/v1/alerts/{alert_id}", json={"decision": "confirmed", "reviewer": "x"},
                                     timeout=10)
    assert unauthenticated.status_code == 401


# --- reviews --------------------------------------------------------------------------

def test_a_decision_updates_the_alert_and_appends_to_its_audit_trail(replicas):
    day = fresh_day()
    alert_id = created_id(replicas[0].url, an_alert("review-1", day=day))
    assert get(replicas[0].url, f"/v1/alerts/{alert_id}").json()["status"] == "new"

    first = patch(replicas[0].url, alert_id, {"decision": "needs_info", "reviewer": "Ann", "note": "photo blurred"})
    assert first.status_code == 200
    assert first.json()["status"] == "needs_info" and first.json()["reviewed_by"] == "Ann"
    second = patch(replicas[1].url, alert_id, {"decision": "confirmed", "reviewer": "Bob"})
    record = second.json()
    assert (record["status"], record["reviewed_by"]) == ("confirmed", "Bob")
    assert dt.datetime.fromisoformat(record["reviewed_at"]) > dt.datetime.fromisoformat(record["received_at"])

    trail = get(replicas[1].url, f"/v1/alerts/{alert_id}/reviews").json()
    assert [(r["previous_status"], r["decision"], r["reviewer"], r["note"]) for r in trail] == [
        ("new", "needs_info", "Ann", "photo blurred"), ("needs_info", "confirmed", "Bob", None)]
    assert trail[0]["review_id"] < trail[1]["review_id"]
    assert {r["credential_id"] for r in trail} == {trail[0]["credential_id"]}
    assert REVIEWER_TOKEN not in json.dumps(trail)
    # The pipeline re-sending the alert leaves the decision alone.
    assert post(replicas[0].url, an_alert("review-1", day=day)).json()["duplicates"] == 1
    assert get(replicas[0].url, f"/v1/alerts/{alert_id}").json()["status"] == "confirmed"


def test_listing_filters_by_review_status(replicas):
    day = fresh_day()
    ids = [created_id(replicas[0].url, an_alert(f"status-{i}", day=day)) for i in range(3)]
    patch(replicas[0].url, ids[0], {"decision": "false_positive", "reviewer": "Ann"})
    patch(replicas[0].url, ids[2], {"decision": "false_positive", "reviewer": "Ann"})
    by_status = {s: [a["scan_id"] for a in get(replicas[1].url, date=day, status=s).json()]
                 for s in ("new", "false_positive", "confirmed")}
    assert by_status == {"new": ["status-1"], "false_positive": ["status-2", "status-0"], "confirmed": []}
    assert get(replicas[1].url, date=day, status="maybe").status_code == 422


@pytest.mark.parametrize(("body", "loc"), [
    ({"decision": "maybe", "reviewer": "Ann"}, ["body", "decision"]),
    ({"decision": "confirmed"}, ["body", "reviewer"]),
    ({"decision": "confirmed", "reviewer": "  "}, ["body", "reviewer"]),
    ({"decision": "confirmed", "reviewer": "Ann", "note": "x" * 2001}, ["body", "note"]),
    ({"decision": "confirmed", "reviewer": "Ann", "status": "new"}, ["body", "status"]),
])
def test_invalid_decision_is_422_naming_the_field(replicas, body, loc):
    alert_id = created_id(replicas[0].url, an_alert("review-422"))
    response = patch(replicas[0].url, alert_id, body)
    assert response.status_code == 422
    assert loc in [e["loc"] for e in response.json()["detail"]]


def test_deciding_on_a_missing_alert_is_404(replicas):
    assert patch(replicas[0].url, str(uuid.uuid4()), {"decision": "confirmed", "reviewer": "Ann"}).status_code == 404
    assert get(replicas[0].url, f"/v1/alerts/{uuid.uuid4()}/reviews").status_code == 404


def test_the_audit_trail_cannot_be_rewritten(replicas, alerts_db_dsn):
    alert_id = created_id(replicas[0].url, an_alert("review-append-only"))
    patch(replicas[0].url, alert_id, {"decision": "confirmed", "reviewer": "Ann"})
    for statement in ("UPDATE alerts.reviews SET decision = 'false_positive' WHERE alert_id = %s",
                      "DELETE FROM alerts.reviews WHERE alert_id = %s"):
        with psycopg.connect(alerts_db_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement, [alert_id])
    with psycopg.connect(alerts_db_dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("TRUNCATE alerts.reviews CASCADE")
    assert [r["decision"] for r in get(replicas[0].url, f"/v1/alerts/{alert_id}/reviews").json()] == ["confirmed"]


def test_decisions_reach_the_pipeline_as_labels(replicas, alerts_db_dsn):
    with AlertClient(replicas[1].url, LABEL_TOKEN) as reader:
        _, cursor = reader.fetch_review_labels()
    ids = {i: created_id(replicas[0].url, an_alert(f"label-{i}", model_version="model-7")) for i in range(3)}
    for i, decision in ((0, "confirmed"), (1, "false_positive"), (0, "false_positive"), (2, "needs_info")):
        assert patch(replicas[i % 2].url, ids[i], {"decision": decision, "reviewer": "Ann"}).status_code == 200

    with AlertClient(replicas[1].url, LABEL_TOKEN) as reader:
        labels, new_cursor = reader.fetch_review_labels(since=cursor, page_size=3)  # two pages
        assert reader.fetch_review_labels(since=new_cursor) == ([], new_cursor)
    assert [(label["scan_id"], label["decision"]) for label in labels] == [
        ("label-0", "confirmed"), ("label-1", "false_positive"), ("label-0", "false_positive"),
        ("label-2", "needs_info")]
    assert {label["model_version"] for label in labels} == {"model-7"}
    assert latest_decisions(labels) == {("label-0", "W-1"): "false_positive", ("label-1", "W-1"): "false_positive",
                                        ("label-2", "W-1"): "needs_info"}
    # The same, for readers with database access: the documented view.
    with psycopg.connect(alerts_db_dsn) as conn:
        rows = conn.execute("SELECT scan_id, decision FROM alerts.review_labels WHERE scan_id LIKE 'label-%%' "
                            "ORDER BY scan_id").fetchall()
    assert rows == [("label-0", "false_positive"), ("label-1", "false_positive"), ("label-2", "needs_info")]


def test_the_dag_reads_decisions_through_its_alerting_connection(replicas, monkeypatch, capsys, caplog):
    """tasks.review_labels (the ensure_model task's input): the label token rides in the
    alerting_service connection's extra; no token or no service means no labels, not a
    failed day."""
    from watchlist_screening.orchestration import tasks
    from watchlist_screening.pipeline_settings import Settings

    alert_id = created_id(replicas[0].url, an_alert("dag-label-1", day=fresh_day()))
    patch(replicas[0].url, alert_id, {"decision": "confirmed", "reviewer": "Ann"})
    port = replicas[1].port

    def connection(**extra) -> str:
        return json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http",
                           "password": PIPELINE_TOKEN, "extra": extra})
    monkeypatch.setenv("AIRFLOW_CONN_ALERTING_SERVICE", connection(label_token=LABEL_TOKEN))
    labels = tasks.review_labels(Settings.from_env())
    assert ("dag-label-1", "W-1") in latest_decisions(labels)

    monkeypatch.delenv("ALERTS_LABEL_TOKEN", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_ALERTING_SERVICE", connection())
    assert tasks.review_labels(Settings.from_env()) is None
    port = free_port()  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_ALERTING_SERVICE", connection(label_token=LABEL_TOKEN))
    assert tasks.review_labels(Settings.from_env()) is None
    captured = capsys.readouterr()  # Airflow's structlog writes to stdout, plain logging to caplog
    assert "reviewer labels unavailable" in captured.out + captured.err + caplog.text


def test_reviewer_names_and_notes_never_reach_the_logs(replicas):
    alert_id = created_id(replicas[0].url, an_alert("review-log"))
    patch(replicas[0].url, alert_id, {"decision": "confirmed", "reviewer": "Zebulon Quist", "note": "Sighted-XY"})
    time.sleep(0.2)
    log = replicas[0].log_path.read_text()
    assert alert_id in log and '"decision": "confirmed"' in log
    assert "Zebulon" not in log and "Sighted-XY" not in log


# --- operations -----------------------------------------------------------------------

def test_rate_limit_answers_429_with_retry_after(alerts_db_dsn, tmp_path):
    replica = Replica(alerts_db_dsn, tmp_path / "limited.log",
                      ALERTS_RATE_LIMIT_PER_SECOND="2", ALERTS_RATE_LIMIT_BURST="3")
    try:
        statuses = [get(replica.url, date="2031-01-01").status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        refused = get(replica.url, date="2031-01-01")
        assert refused.headers["Retry-After"] == "1"
        assert "rate limit" in refused.json()["detail"]
        # Each credential has its own allowance; unknown tokens share their address's.
        assert post(replica.url, an_alert("limited-1")).status_code == 202
        wrong = [get(replica.url, token=f"guess-{i}").status_code for i in range(5)]
        assert wrong[:3] == [401] * 3 and wrong[3:] == [429, 429]
        time.sleep(1.0)
        assert get(replica.url, date="2031-01-01").status_code == 200
        metrics = requests.get(f"{replica.url}/metrics", timeout=5).text
        assert "alerting_rate_limited_total 5.0" in metrics
    finally:
        replica.stop()


def test_metrics_count_requests_by_route_template_and_alerts_by_outcome(replicas):
    base = replicas[1].url
    alert_id = created_id(base, an_alert("metrics-1"))
    post(base, an_alert("metrics-1"))
    get(base, f"/v1/alerts/{alert_id}")
    response = requests.get(f"{base}/metrics", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    assert 'alerting_http_requests_total{method="GET",route="/v1/alerts/{alert_id}",status="200"}' in text
    assert alert_id not in text
    assert 'alerting_alerts_total{outcome="created"}' in text and 'alerting_alerts_total{outcome="duplicate"}' in text
    assert 'alerting_http_request_duration_seconds_bucket{le="0.1",method="POST",route="/v1/alerts"}' in text
    assert "alerting_db_pool_size" in text and "alerting_db_requests_waiting" in text


def test_openapi_is_published_with_bearer_auth_and_error_answers(replicas):
    spec = requests.get(f"{replicas[0].url}/openapi.json", timeout=5).json()
    assert {"/v1/alerts", "/v1/alerts/{alert_id}", "/v1/alerts/{alert_id}/reviews", "/v1/reviews", "/healthz",
            "/readyz"} <= spec["paths"].keys()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    post_op = spec["paths"]["/v1/alerts"]["post"]
    assert {"202", "400", "401", "403", "422", "429", "503"} <= post_op["responses"].keys()
    assert post_op["security"] == [{"HTTPBearer": []}]
    assert {"get", "patch"} <= spec["paths"]["/v1/alerts/{alert_id}"].keys()
    assert requests.get(f"{replicas[0].url}/docs", timeout=5).status_code == 200


def test_reports_open_for_logged_in_reviewers_only(alerts_db_dsn, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "run-2031-05-01.html").write_text("<h1>Screening run 2031-05-01</h1>")
    (tmp_path / "secret.html").write_text("not a report")
    replica = Replica(alerts_db_dsn, tmp_path / "reports.log", ALERTS_REPORT_DIR=str(reports))
    try:
        page = f"{replica.url}/review/reports/run-2031-05-01.html"
        anonymous = requests.get(page, allow_redirects=False, timeout=30)
        assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/review/login"
        # a bearer token is not a browser session: reports follow the review page's rules
        assert "Screening run" not in get(replica.url, "/review/reports/run-2031-05-01.html").text

        reviewer = requests.Session()
        reviewer.post(f"{replica.url}/review/login", data={"reviewer": "Ann", "token": REVIEWER_TOKEN},
                      timeout=30).raise_for_status()
        opened = reviewer.get(page, timeout=30)
        assert opened.status_code == 200 and "Screening run 2031-05-01" in opened.text
        assert opened.headers["Content-Type"].startswith("text/html")
        assert "frame-ancestors 'none'" in opened.headers["Content-Security-Policy"]
        assert opened.headers["Cache-Control"] == "no-store"
        for name in ("run-2031-05-02.html", "..%2Fsecret.html", ".hidden.html", "run-2031-05-01.txt"):
            refused = reviewer.get(f"{replica.url}/review/reports/{name}", timeout=30)
            assert refused.status_code == 404 and "not a report" not in refused.text, name
    finally:
        replica.stop()
