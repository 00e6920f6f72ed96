"""The alerting service as deployed: real replicas (subprocesses) on a real PostgreSQL
database, and the local stack's load balancer with a replica killed mid-stream."""
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
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from watchlist_screening.alerts import AlertClient, batch_idempotency_key

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_TOKEN, ROTATED_PIPELINE_TOKEN = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
REVIEWER_TOKEN = secrets.token_urlsafe(16)
CONTRACT_FIELDS = {"scan_id", "subject_id", "airport", "date", "match_probability", "match_weight",
                   "model_version", "received_at", "alert_id"}
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

    def __init__(self, dsn: str, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
        env.update(
            ALERTS_DB_DSN=dsn,
            ALERTS_PIPELINE_TOKENS=f"{PIPELINE_TOKEN},{ROTATED_PIPELINE_TOKEN}",
            ALERTS_REVIEWER_TOKENS=REVIEWER_TOKEN,
            ALERTS_DB_POOL_TIMEOUT_SECONDS="2",
            ALERTS_DB_WAIT_SECONDS="15",
        )
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
    from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations

    base_dsn = stack_db["ALERTS_DB_DSN"]
    name = f"alerts_gone_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(**{**conninfo_to_dict(base_dsn), "dbname": name})
    apply_migrations(dsn, SQL_ROOT / "alerts")
    replica = Replica(dsn, tmp_path / "replica.log")
    try:
        assert requests.get(f"{replica.url}/readyz", timeout=10).status_code == 200
        with psycopg.connect(base_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        ready = requests.get(f"{replica.url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert requests.get(f"{replica.url}/healthz", timeout=5).status_code == 200  # alive, not ready
        refused = post(replica.url, an_alert("gone-1"))
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
    finally:
        replica.stop()
        with psycopg.connect(base_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    again = post(replicas[1].url, an_alert("pair-1", model_version="model-2")).json()["results"][0]
    assert first["created"] is True
    assert again["created"] is False and again["status"] == "duplicate"
    assert again["alert_id"] == first["alert_id"]
    assert stored_pairs(alerts_db_dsn, "pair-1") == {("pair-1", "W-1"): 1}


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
        ({"alerts": [an_alert("v-1"), {k: v for k, v in an_alert("v-2").items() if k != "scan_id"}]},
         ["body", "batch", "alerts", 1, "scan_id"], "missing"),
        ({"alerts": []}, ["body", "batch", "alerts"], "too_short"),
        ({"alerts": [an_alert(f"v-{i}") for i in range(1001)]}, ["body", "batch", "alerts"], "too_long"),
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


# --- through the local stack's load balancer ------------------------------------------

def test_load_balancer_delivers_every_alert_once_while_a_replica_dies(stack_up):
    base, token = stack_up["ALERTS_URL"], stack_up["ALERTS_PIPELINE_TOKEN"]
    local_dir = Path(os.environ.get("WATCHLIST_LOCAL_DIR", REPO_ROOT / ".local"))
    reviewer = (local_dir / "reviewer.token").read_text().strip()
    victim_port = os.environ.get("ALERTS_REPLICA_PORTS", "8091 8092").split()[0]
    victim_pid = int((local_dir / "run" / f"alerting-{victim_port}.pid").read_text())

    run = f"lb-{uuid.uuid4().hex[:10]}-"
    day = "2000-01-01"  # far from any real passenger day; this run's rows are deleted at the end
    batches = [[an_alert(f"{run}{b}-{i}", day=day) for i in range(5)] for b in range(40)]
    keys = [batch_idempotency_key(day, b, batch) for b, batch in enumerate(batches)]

    def send(b):
        return post(base, {"alerts": batches[b]}, token=token, key=keys[b], request_id=f"{run}{b}")

    try:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(send, b) for b in range(len(batches))]
            while sum(f.done() for f in futures) < 10:
                time.sleep(0.005)
            os.kill(victim_pid, signal.SIGKILL)  # a crash, with requests in flight
            responses = [f.result() for f in futures]
        # No client retries here: the balancer alone hid the crash.
        assert [r.status_code for r in responses] == [202] * len(batches)
        assert sum(r.json()["created"] for r in responses) == 200

        # The pipeline resending everything (an Airflow retry) changes nothing.
        with AlertClient(base, token, max_retries=3, backoff_base=0.1) as client:
            for b, batch in enumerate(batches):
                assert client.send_batch(batch, keys[b]) == responses[b].json()

        listed = get(base, token=reviewer, date=day)
        assert listed.status_code == 200
        ours = Counter(item["scan_id"] for item in listed.json() if item["scan_id"].startswith(run))
        assert len(ours) == 200 and set(ours.values()) == {1}
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", int(victim_port))):
            pass
        # The balancer did meet the dead replica and moved those requests to the other one.
        access_log = (local_dir / "logs" / "nginx-access.log").read_text().splitlines()
        failed_over = [json.loads(line) for line in access_log if f'"request_id":"{run}' in line]
        assert any(f"127.0.0.1:{victim_port}, " in entry["upstream"] for entry in failed_over)
    finally:
        subprocess.run([str(REPO_ROOT / "scripts" / "alerting.sh"), "start"], check=True)  # revives the victim
        with psycopg.connect(stack_up["ALERTS_DB_DSN"]) as conn:
            conn.execute("DELETE FROM alerts.alerts WHERE scan_id LIKE %s", [run + "%"])
            conn.execute("DELETE FROM alerts.idempotency_keys WHERE idempotency_key = ANY(%s)", [keys])
    status = subprocess.run([str(REPO_ROOT / "scripts" / "alerting.sh"), "status"], capture_output=True, text=True)
    assert status.returncode == 0, status.stdout
