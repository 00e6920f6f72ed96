"""Fuzzing beyond the schema, through the balancer as clients meet it: non-finite numbers,
huge and deep bodies, bad Unicode and arbitrary bytes. No answer may be a 5xx, and no
request may take a replica out of nginx's pool (before issue 13, a burst of four NaN
bodies had every route answering 502 for about 5 s)."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_alerting_resilience import DedicatedStack

pytestmark = pytest.mark.integration

VALID = {"scan_id": "fz-1", "subject_id": "W-1", "airport": "LHR", "date": "2041-01-01",
         "match_probability": 0.9, "match_weight": 9.5, "model_version": "m"}


@pytest.fixture(scope="module")
def stack(stack_db):
    from tests.conftest import migrated_database

    # Its own database: fuzzed alerts may land on any day.
    with migrated_database(stack_db["ALERTS_DB_DSN"], "alerts") as dsn:
        started = DedicatedStack(dsn, ALERTS_RATE_LIMIT_PER_SECOND="0")
        try:
            yield started
        finally:
            started.close()


def send(stack: DedicatedStack, body: bytes, *, method: str = "POST", path: str = "/v1/alerts",
         token: bool = True, content_type: str = "application/json") -> requests.Response:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {stack.pipeline_token if method == 'POST' else stack.reviewer_token}"
    return requests.request(method, stack.url + path, data=body, headers=headers, timeout=60)


def alert_text(**replace: str) -> str:
    fields = {k: json.dumps(v) for k, v in VALID.items()}
    fields.update(replace)
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


NASTY: list[tuple[str, bytes]] = [
    ("nan", alert_text(match_probability="NaN").encode()),
    ("infinity", alert_text(match_weight="Infinity").encode()),
    ("minus-infinity", ('{"alerts": [%s]}' % alert_text(match_weight="-Infinity")).encode()),
    ("1e400", alert_text(match_weight="1e400").encode()),
    ("huge-int", alert_text(match_weight="9" * 10_000).encode()),
    ("lone-surrogate", alert_text(scan_id='"\\ud800"').encode()),
    ("surrogate-key", alert_text(evidence='{"\\udc80": 1.0}').encode()),
    ("surrogate-batch", ('{"alerts": [%s]}' % alert_text(subject_id='"\\udbff"')).encode()),
    ("invalid-utf8", b'{"scan_id": "\xff\xfe\xed\xa0\x80"}'),
    ("deep-list", b"[" * 200_000),
    ("deep-object", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    ("deep-field", ('{"alerts": [%s]}' % alert_text(evidence="[" * 5_000 + "]" * 5_000)).encode()),
    ("wide-evidence", alert_text(evidence=json.dumps({f"k{i}": 1.0 for i in range(100_000)})).encode()),
    ("service-413", b'{"alerts": ["' + b"x" * (4 * 1024 * 1024 + 10) + b'"]}'),
    ("nginx-413", b'{"alerts": ["' + b"x" * (6 * 1024 * 1024) + b'"]}'),
    ("too-many", json.dumps({"alerts": [VALID] * 5_000}).encode()),
    ("not-json", b"\x00\x01\x02 garbage"),
    ("empty", b""),
]


def assert_nothing_ejected(stack: DedicatedStack) -> None:
    started = time.monotonic()
    ready = requests.get(f"{stack.url}/readyz", timeout=10)
    assert ready.status_code == 200 and time.monotonic() - started < 2.0
    for port in stack.replica_ports:
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
    errors = (stack.dir / "logs" / "nginx-error.log").read_text()
    assert "temporarily disabled" not in errors and "no live upstreams" not in errors, errors[-2000:]
    for entry in stack.access_log():
        # One upstream per request: none was failed over from one replica to the next.
        assert ", " not in entry["upstream"] and not entry["upstream_status"].startswith("5"), entry


def test_a_burst_of_hostile_bodies_gets_4xx_and_ejects_no_replica(stack):
    cases = [(name, body, token) for name, body in NASTY for token in (True, False)] * 2
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda c: (c[0], c[2], send(stack, c[1], token=c[2])), cases))
    for name, token, response in answers:
        assert response.status_code < 500, (name, token, response.status_code, response.text[:300])
        if response.status_code == 202:  # a batch: its one alert refused, the request not
            assert response.json()["refused"] == response.json()["received"] == 1, (name, response.text[:300])
        else:
            assert response.status_code >= 400, name
        assert len(response.content) < 50_000, name
        if not token and response.status_code != 413:  # nginx refuses the biggest before any token check
            assert response.status_code == 401, (name, response.status_code)
    assert_nothing_ejected(stack)


def test_hostile_queries_and_review_bodies(stack):
    for path in ("/v1/alerts?date=%ED%A0%80", "/v1/alerts?limit=1e400", "/v1/alerts?limit=NaN",
                 "/v1/alerts?offset=" + "9" * 5000, "/v1/alerts?status=%00", "/v1/alerts?" + "x=1&" * 2000,
                 "/v1/alerts/%ff%fe", "/review?date=%ED%A0%80"):
        assert send(stack, b"", method="GET", path=path).status_code < 500, path
    for body in (b'{"decision": "confirmed", "reviewer": "\\ud800"}', b'{"decision": NaN}', b"[" * 100_000,
                 b'{"decision": "confirmed", "reviewer": "A", "note": "' + b"n" * 3_000_000 + b'"}'):
        response = send(stack, body, method="PATCH", path="/v1/alerts/00000000-0000-0000-0000-000000000000")
        assert 400 <= response.status_code < 500, (body[:40], response.status_code)
    assert_nothing_ejected(stack)


# Any JSON value, with numbers JSON cannot carry and strings with lone surrogates.
_texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | _texts,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_texts, inner, max_size=5),
    max_leaves=30,
)
_mutated = st.builds(lambda k, v: {**VALID, k: v}, st.sampled_from([*VALID, "evidence", "passenger", "extra"]), _values)
_bodies = st.one_of(
    _values.map(lambda v: json.dumps(v).encode()),
    _mutated.map(lambda a: json.dumps(a).encode()),
    st.lists(_mutated, min_size=1, max_size=5).map(lambda xs: json.dumps({"alerts": xs}).encode()),
    st.binary(max_size=300),
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(body=_bodies, token=st.booleans())
def test_arbitrary_bodies_never_get_a_5xx(stack, body, token):
    response = send(stack, body, token=token)
    assert response.status_code < 500, (body[:200], response.status_code, response.text[:300])
    if response.status_code == 202:
        result = response.json()
        assert result["received"] == result["created"] + result["updated"] + result["duplicates"] + result["refused"]


def test_and_after_all_that_no_replica_was_ejected(stack):
    assert_nothing_ejected(stack)
