"""The alerting service's pure parts, without a database: rate limiter, review sessions,
token roles and the payload rules that keep bad text out of PostgreSQL."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from alerting_service.auth import Role, TokenAuthority, credential_id
from alerting_service.models import Alert, ReviewDecision
from alerting_service.ratelimit import RateLimited, RateLimiter
from alerting_service.sessions import LIFETIME_SECONDS, SessionSigner


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- rate limiter ---------------------------------------------------------------------

def test_rate_limiter_allows_a_burst_then_refuses_with_the_wait():
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    for _ in range(3):
        limiter.check("a")
    with pytest.raises(RateLimited) as refused:
        limiter.check("a")
    assert refused.value.retry_after == pytest.approx(0.5)
    assert refused.value.retry_after_header == "1"  # whole seconds, never 0
    limiter.check("b")  # another client has its own bucket
    clock.now += 0.5
    limiter.check("a")  # refilled at 2/s


def test_rate_limiter_refusals_do_not_dig_a_deeper_hole():
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=1, clock=clock)
    limiter.check("a")
    for _ in range(50):
        with pytest.raises(RateLimited):
            limiter.check("a")
    clock.now += 1.0
    limiter.check("a")


def test_rate_limiter_off_and_bounded_memory():
    RateLimiter(rate=0, burst=1).check("a")  # rate 0: never refuses
    for _ in range(5):
        RateLimiter(rate=0, burst=1).check("a")
    limiter = RateLimiter(rate=1, burst=1, max_clients=2, clock=Clock())
    for client in ("a", "b", "c"):
        limiter.check(client)
    assert len(limiter._buckets) == 2


# --- tokens ---------------------------------------------------------------------------

def test_token_authority_roles_and_credential_ids():
    authority = TokenAuthority({Role.PIPELINE: ["p1", "p2"], Role.REVIEWER: ["r1"], Role.LABELS: ["l1"]})
    assert authority.identify("p2").roles == {Role.PIPELINE}
    assert authority.identify("r1").roles == {Role.REVIEWER}
    assert authority.identify("nope") is None
    assert authority.identify("p1").credential_id == credential_id("p1") != credential_id("p2")
    assert "p1" not in credential_id("p1")


# --- review sessions ------------------------------------------------------------------

def test_session_round_trip_and_csrf():
    clock = Clock(1_800_000_000)
    signer = SessionSigner(["rev-token-1", "rev-token-2"], clock=clock)
    cookie, session = signer.open("rev-token-1", "Ann Lee")
    assert "rev-token-1" not in cookie
    assert signer.verify(cookie) == session
    assert session.reviewer == "Ann Lee" and session.credential_id == credential_id("rev-token-1")
    assert signer.csrf_ok(session, session.csrf_token)
    assert not signer.csrf_ok(session, "") and not signer.csrf_ok(session, None)
    _, other = signer.open("rev-token-1", "Ann Lee")
    assert other.csrf_token != session.csrf_token  # bound to the session, not to the token


def test_session_signed_by_any_replica_with_the_same_tokens():
    cookie, _ = SessionSigner(["rev-token-1"]).open("rev-token-1", "Ann")
    assert SessionSigner(["other", "rev-token-1"]).verify(cookie) is not None


@pytest.mark.parametrize("mangle", [
    lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),      # signature changed
    lambda c: "eyJjaWQiOiJ4In0" + c[c.index("."):],                    # payload swapped
    lambda c: c.split(".")[0],                                          # no signature
    lambda c: "",
    lambda c: "not base64 ü.sig",
    lambda c: "W10.sig",                                                # a JSON list, not claims
])
def test_forged_sessions_are_refused(mangle):
    signer = SessionSigner(["rev-token-1"])
    cookie, _ = signer.open("rev-token-1", "Ann")
    assert signer.verify(mangle(cookie)) is None


def test_sessions_expire_and_end_with_their_token():
    clock = Clock(1_800_000_000)
    cookie, _ = SessionSigner(["rev-token-1"], clock=clock).open("rev-token-1", "Ann")
    clock.now += LIFETIME_SECONDS + 1
    assert SessionSigner(["rev-token-1"], clock=clock).verify(cookie) is None
    clock.now -= 2
    assert SessionSigner(["rev-token-1"], clock=clock).verify(cookie) is not None
    assert SessionSigner(["rev-token-2"], clock=clock).verify(cookie) is None  # token rotated out


# --- payload rules --------------------------------------------------------------------

def an_alert(**fields) -> dict:
    return {"scan_id": "S-1", "subject_id": "W-1", "airport": "LHR", "date": "2024-05-01",
            "match_probability": 0.9, "match_weight": 9.5, "model_version": "m-1", **fields}


@pytest.mark.parametrize(("fields", "loc", "error"), [
    ({"scan_id": "S\x001"}, ("scan_id",), "text_nul"),
    ({"scan_id": "S\ud8001"}, ("scan_id",), "string_unicode"),
    ({"passenger": {"surname\x00": "Lee"}}, ("passenger", "surname\x00", "[key]"), "text_nul"),
    ({"subject": {"surname": "Le\x00e"}}, None, "text_nul"),
    ({"passenger": {"height_cm": float("nan")}}, None, "finite_number"),
    ({"passenger": {"aliases": ["a", "b"]}}, None, "string_type"),
    ({"evidence": {"face": float("inf")}}, ("evidence", "face"), "finite_number"),
])
def test_text_and_numbers_postgres_cannot_store_are_422(fields, loc, error):
    with pytest.raises(ValidationError) as caught:
        Alert.model_validate(an_alert(**fields))
    found = caught.value.errors()
    assert error in {e["type"] for e in found}
    if loc:
        assert loc in {e["loc"] for e in found}


def test_key_fields_take_scalars_and_group_ids_numbers():
    alert = Alert.model_validate(an_alert(group_id=12, passenger={"height_cm": 171, "surname": "Lee", "x": None,
                                                                  "ok": True, "w": 1.5}))
    assert alert.group_id == "12"
    assert alert.passenger == {"height_cm": 171, "surname": "Lee", "x": None, "ok": True, "w": 1.5}


def test_review_decision_rules():
    assert ReviewDecision.model_validate({"decision": "false_positive", "reviewer": "  Ann "}).reviewer == "Ann"
    for bad in ({"decision": "maybe", "reviewer": "Ann"}, {"decision": "confirmed", "reviewer": " "},
                {"decision": "confirmed", "reviewer": "Ann", "note": "x" * 2001},
                {"decision": "confirmed", "reviewer": "Ann", "by": "Bob"}):
        with pytest.raises(ValidationError):
            ReviewDecision.model_validate(bad)


# --- POST /v1/alerts bodies (payloads.py) -----------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"match_weight": NaN}', b'{"match_weight": Infinity}', b'{"match_weight": -Infinity}', b'[1e400]',
    b'[' + b"9" * 40 + b']', b"[" * 100_000, b'{"a": "\xff"}', b'{"scan_id": ',
])
def test_bodies_that_are_not_strict_json_are_refused_without_echo(body):
    from alerting_service.payloads import BodyRefused, parse_alerts

    with pytest.raises(BodyRefused) as caught:
        parse_alerts(body)
    assert caught.value.status == 422
    detail = json.dumps(caught.value.detail, allow_nan=False)  # encodable, whatever came in
    assert len(detail) < 500 and "9999999999" not in detail


def test_a_batch_is_validated_alert_by_alert_and_errors_never_carry_input():
    from alerting_service.payloads import parse_alerts

    long_id = "Q" * 5_000
    batch = {"alerts": [an_alert(), an_alert(scan_id=long_id), an_alert(subject_id="S\ud800"), 7,
                        an_alert(scan_id="S-2", passenger={"k" * 500: 1})], "run_id": "run-1"}
    parsed = parse_alerts(json.dumps(batch).encode())
    assert [i for i, _ in parsed.valid] == [0] and parsed.run_id == "run-1" and parsed.received == 5
    assert [r["index"] for r in parsed.refusals] == [1, 2, 3, 4]
    text = json.dumps(parsed.refusals)
    assert "QQQQ" * 60 not in text and "k" * 100 not in text  # ids and locations cut short
    assert parsed.refusals[1]["subject_id"] == "S\\ud800"  # shown, not failing the answer
    # The fingerprint ignores key order and number spelling, not content.
    again = parse_alerts(json.dumps({"run_id": "run-1", "alerts": list(reversed(batch["alerts"]))[::-1]},
                                    sort_keys=True).encode())
    assert again.fingerprint == parsed.fingerprint
    assert parse_alerts(json.dumps({**batch, "run_id": "run-2"}).encode()).fingerprint != parsed.fingerprint


def test_free_text_at_the_contract_bound_is_an_alert():
    alert = Alert.model_validate(an_alert(subject={"offence": "✓" * 2000, "caution": "𐍈" * 2000},
                                          scan_id="s" * 128, passenger={"surname": "名" * 200}))
    assert alert.subject["caution"] == "𐍈" * 2000
    with pytest.raises(ValidationError):
        Alert.model_validate(an_alert(subject={"offence": "x" * 2001}))


def test_names_are_neutralised_for_display():
    from alerting_service.ui import neutralise

    assert neutralise("Anna Lee") == "Anna Lee"
    assert neutralise("Lee\u202eveL\x07\u2066") == "Lee⟨U+202E⟩veL⟨U+0007⟩⟨U+2066⟩"
    assert neutralise("می\u200cخواهم") == "می\u200cخواهم"  # a joiner shapes the word: kept
    assert neutralise(12) == 12
