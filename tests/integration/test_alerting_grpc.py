"""The gRPC API through the test session's stack (scripts/stack.sh: two replicas behind
nginx's grpc_pass, on free ports): every RPC, tokens and roles, per-alert refusals,
idempotency, paging, a watch stream resumed from its cursor, health and reflection, and the
pipeline's gRPC transport (include/watchlist_screening/alerts/grpc_transport.py)."""
from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import grpc
import pytest
import requests
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from watchlist_screening.alerts import NonRetryableAlertError
from watchlist_screening.alerts.grpc_transport import GrpcAlertClient, alert_message, pb, services

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(stack_up) -> dict[str, str]:
    return stack_up


@pytest.fixture(scope="module")
def channel(stack):
    with grpc.insecure_channel(stack["ALERTS_GRPC_TARGET"]) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield ch


@pytest.fixture(scope="module")
def stub(channel):
    return services.AlertsStub(channel)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def an_alert(scan_id: str, day: str, **overrides) -> dict:
    alert = {"scan_id": scan_id, "subject_id": "W-1", "airport": "LHR", "date": day,
             "match_probability": 0.97, "match_weight": 11.5, "model_version": "m-grpc",
             "photo_similarity": 0.8, "group_id": f"g-{scan_id}", "evidence": {"face": 9.0, "surname": None},
             "passenger": {"surname": "Lee", "height_cm": 171, "frequent": True},
             "subject": {"surname": "Leigh", "height_cm": 172.5}}
    alert.update(overrides)
    return alert


def a_day() -> str:
    # A day of its own per test: listings and streams see only that test's alerts.
    return (dt.date(2060, 1, 1) + dt.timedelta(days=uuid.uuid4().int % 20_000)).isoformat()


def submit(stub, stack, alerts: list[dict], key: str | None = None, **fields):
    request = pb.SubmitAlertsRequest(alerts=[alert_message(a) for a in alerts], **fields)
    if key:
        request.idempotency_key = key
    return stub.SubmitAlerts(request, metadata=bearer(stack["ALERTS_PIPELINE_TOKEN"]), timeout=30)


def test_submit_get_and_the_same_alert_over_rest(stub, stack):
    day = a_day()
    answer = submit(stub, stack, [an_alert("G-1", day), an_alert("G-2", day)], key=f"k-{uuid.uuid4()}")
    assert (answer.received, answer.created, answer.refused, answer.replayed) == (2, 2, 0, False)
    alert_id = answer.results[0].alert_id
    record = stub.GetAlert(pb.GetAlertRequest(alert_id=alert_id), metadata=bearer(stack["ALERTS_REVIEWER_TOKEN"]))
    assert record.alert.scan_id == "G-1" and record.status == "new" and record.revision == 1
    assert record.alert.passenger.values["height_cm"].int_value == 171
    assert record.alert.evidence.values["surname"].WhichOneof("kind") is None  # null kept as null
    # The same store as REST: REST reads it, with the same values, and a REST repeat is a duplicate.
    rest = requests.get(f"{stack['ALERTS_URL']}/v1/alerts/{alert_id}",
                        headers={"Authorization": f"Bearer {stack['ALERTS_REVIEWER_TOKEN']}"}, timeout=30).json()
    assert rest["passenger"] == {"surname": "Lee", "height_cm": 171, "frequent": True}
    assert rest["evidence"] == {"face": 9.0, "surname": None}
    again = requests.post(f"{stack['ALERTS_URL']}/v1/alerts", json=an_alert("G-1", day), timeout=30,
                          headers={"Authorization": f"Bearer {stack['ALERTS_PIPELINE_TOKEN']}"}).json()
    assert again["results"][0]["status"] == "duplicate" and again["results"][0]["alert_id"] == alert_id


def test_a_bad_alert_is_refused_alone_with_its_reason(stub, stack):
    day = a_day()
    bad = an_alert("G-bad", day, match_probability=1.7)
    missing = an_alert("G-missing", day)
    del missing["model_version"]
    answer = submit(stub, stack, [an_alert("G-ok", day), bad, missing])
    assert (answer.received, answer.created, answer.refused) == (3, 1, 2)
    reasons = {r.index: r for r in answer.refusals}
    assert reasons[1].scan_id == "G-bad" and "match_probability" in reasons[1].reason
    assert reasons[2].errors[0].loc[0].name == "model_version" and reasons[2].errors[0].type == "missing"


def test_a_whole_request_refused_names_the_fault(stub, stack):
    day = a_day()
    with pytest.raises(grpc.RpcError) as too_many:
        submit(stub, stack, [an_alert(f"G-{i}", day) for i in range(201)])
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 200" in too_many.value.details()
    with pytest.raises(grpc.RpcError) as bad_run:
        submit(stub, stack, [an_alert("G-r", day)], run_id="no spaces allowed")
    assert bad_run.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "run_id" in bad_run.value.details()


def test_idempotent_per_pair_and_per_key(stub, stack):
    day, key = a_day(), f"k-{uuid.uuid4()}"
    first = submit(stub, stack, [an_alert("G-i1", day)], key=key)
    replay = submit(stub, stack, [an_alert("G-i1", day)], key=key)
    assert replay.replayed and replay.results[0].alert_id == first.results[0].alert_id
    assert replay.created == first.created == 1  # the stored first answer
    pair_again = submit(stub, stack, [an_alert("G-i1", day)], key=f"k-{uuid.uuid4()}")
    assert (pair_again.created, pair_again.duplicates, pair_again.replayed) == (0, 1, False)
    changed = submit(stub, stack, [an_alert("G-i1", day, match_probability=0.5)])
    assert changed.updated == 1
    with pytest.raises(grpc.RpcError) as reused:
        submit(stub, stack, [an_alert("G-i2", day)], key=key)
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_tokens_and_roles(stub, stack):
    request = pb.SubmitAlertsRequest(alerts=[alert_message(an_alert("G-t", a_day()))])
    for metadata, code in (((), grpc.StatusCode.UNAUTHENTICATED),
                           (bearer("not-a-token"), grpc.StatusCode.UNAUTHENTICATED),
                           (bearer(stack["ALERTS_REVIEWER_TOKEN"]), grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(grpc.RpcError) as refused:
            stub.SubmitAlerts(request, metadata=metadata, timeout=30)
        assert refused.value.code() == code
    for token in (stack["ALERTS_PIPELINE_TOKEN"], stack["ALERTS_LABEL_TOKEN"]):
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListAlerts(pb.ListAlertsRequest(), metadata=bearer(token), timeout=30)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_list_filters_and_pages(stub, stack):
    day = a_day()
    submit(stub, stack, [an_alert(f"G-p{i}", day) for i in range(5)] + [an_alert("G-cdg", day, airport="CDG")])
    reviewer = bearer(stack["ALERTS_REVIEWER_TOKEN"])
    seen, token = [], ""
    while True:
        page = stub.ListAlerts(pb.ListAlertsRequest(date=day, airport="LHR", page_size=2, page_token=token),
                               metadata=reviewer)
        assert len(page.alerts) <= 2
        seen += [a.alert.scan_id for a in page.alerts]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == [f"G-p{i}" for i in range(5)]
    everything = stub.ListAlerts(pb.ListAlertsRequest(date=day), metadata=reviewer)
    assert len(everything.alerts) == 6 and not everything.next_page_token
    with pytest.raises(grpc.RpcError) as bad:
        stub.ListAlerts(pb.ListAlertsRequest(date="2060-13-01", status="maybe"), metadata=reviewer)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "date" in bad.value.details() and "status" in bad.value.details()


def test_review_decision(stub, stack):
    day = a_day()
    alert_id = submit(stub, stack, [an_alert("G-rev", day)]).results[0].alert_id
    reviewer = bearer(stack["ALERTS_REVIEWER_TOKEN"])
    record = stub.ReviewAlert(pb.ReviewAlertRequest(alert_id=alert_id, decision="confirmed", reviewer="Ann"),
                              metadata=reviewer)
    assert (record.status, record.reviewed_by) == ("confirmed", "Ann") and record.HasField("reviewed_at")
    listed = stub.ListAlerts(pb.ListAlertsRequest(date=day, status="confirmed"), metadata=reviewer)
    assert [a.alert_id for a in listed.alerts] == [alert_id]
    trail = requests.get(f"{stack['ALERTS_URL']}/v1/alerts/{alert_id}/reviews", timeout=30,
                         headers={"Authorization": f"Bearer {stack['ALERTS_REVIEWER_TOKEN']}"}).json()
    assert [(t["decision"], t["reviewer"]) for t in trail] == [("confirmed", "Ann")]
    for request, code in ((pb.ReviewAlertRequest(alert_id=alert_id, decision="maybe", reviewer="Ann"),
                           grpc.StatusCode.INVALID_ARGUMENT),
                          (pb.ReviewAlertRequest(alert_id=str(uuid.uuid4()), decision="confirmed", reviewer="Ann"),
                           grpc.StatusCode.NOT_FOUND),
                          (pb.ReviewAlertRequest(alert_id="not-a-uuid", decision="confirmed", reviewer="Ann"),
                           grpc.StatusCode.INVALID_ARGUMENT)):
        with pytest.raises(grpc.RpcError) as refused:
            stub.ReviewAlert(request, metadata=reviewer)
        assert refused.value.code() == code


def test_watch_streams_new_alerts_and_resumes_from_a_cursor(stub, stack):
    day = a_day()
    reviewer = bearer(stack["ALERTS_REVIEWER_TOKEN"])
    # Where the stream stands now: the first heartbeat or event after the earlier tests' alerts.
    start = stub.WatchAlerts(pb.WatchAlertsRequest(date=day), metadata=reviewer, timeout=60)
    submit(stub, stack, [an_alert("G-w1", day), an_alert("G-w2", day)])
    first = [next(start), next(start)]
    start.cancel()
    assert [e.alert.alert.scan_id for e in first] == ["G-w1", "G-w2"]
    assert first[0].cursor < first[1].cursor
    # Alerts stored while no console watched arrive on resuming from the last cursor seen,
    # and nothing seen already comes again.
    submit(stub, stack, [an_alert("G-w3", day), an_alert("G-other-day", a_day())])
    submit(stub, stack, [an_alert("G-w4", day)])
    resumed = stub.WatchAlerts(pb.WatchAlertsRequest(after=first[0].cursor, date=day), metadata=reviewer,
                               timeout=60)
    got = []
    for event in resumed:
        if event.HasField("alert"):
            got.append(event.alert.alert.scan_id)
        if len(got) == 3:
            break
    resumed.cancel()
    assert got == ["G-w2", "G-w3", "G-w4"]


def test_watch_from_now_skips_what_was_stored_before(stub, stack):
    day = a_day()
    submit(stub, stack, [an_alert("G-before", day)])
    stream = stub.WatchAlerts(pb.WatchAlertsRequest(date=day, from_now=True),
                              metadata=bearer(stack["ALERTS_REVIEWER_TOKEN"]), timeout=60)
    time.sleep(1.5)  # the stream has taken its starting point
    submit(stub, stack, [an_alert("G-after", day)])
    event = next(e for e in stream if e.HasField("alert"))
    stream.cancel()
    assert event.alert.alert.scan_id == "G-after"


def test_watch_sends_heartbeats_while_quiet(stub, stack):
    stream = stub.WatchAlerts(pb.WatchAlertsRequest(date=a_day()), metadata=bearer(stack["ALERTS_REVIEWER_TOKEN"]),
                              timeout=60)
    event = next(stream)
    stream.cancel()
    assert not event.HasField("alert") and event.cursor > 0


def test_health_and_reflection(channel):
    checker = health_pb2_grpc.HealthStub(channel)
    for service in ("", "watchlist.alerts.v1.Alerts"):
        assert checker.Check(health_pb2.HealthCheckRequest(service=service), timeout=10).status == \
            health_pb2.HealthCheckResponse.SERVING
    reflector = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = list(reflector.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="watchlist.alerts.v1.Alerts"),
    ]), timeout=10))
    names = {s.name for s in answers[0].list_services_response.service}
    assert {"watchlist.alerts.v1.Alerts", "grpc.health.v1.Health"} <= names
    proto = descriptor_pb2.FileDescriptorProto.FromString(answers[1].file_descriptor_response.file_descriptor_proto[0])
    assert proto.package == "watchlist.alerts.v1"
    assert {m.name for m in proto.service[0].method} == {
        "SubmitAlerts", "CompleteRun", "GetAlert", "ListAlerts", "ReviewAlert", "WatchAlerts"}


def test_both_replicas_serve_grpc_through_the_balancer(stub, stack):
    submit(stub, stack, [an_alert("G-lb", a_day())])
    log = (stack["WATCHLIST_LOCAL_DIR"] + "/logs/nginx-access.log")
    upstreams = {line.split('"upstream":"')[1].split('"')[0] for line in open(log) if "Alerts/" in line}
    grpc_ports = {f"127.0.0.1:{p}" for p in open(stack["WATCHLIST_LOCAL_DIR"] + "/ports.env").read()
                  .split("ALERTS_GRPC_REPLICA_PORTS=")[1].split("\n")[0].split()}
    assert upstreams <= grpc_ports and len(upstreams) == 2


def test_transport_sends_like_the_rest_client(stack):
    day = a_day()
    alerts = [an_alert(f"G-c{i}", day) for i in range(250)]  # two requests: 200 + 50
    alerts[7]["match_probability"] = float("nan")            # refused by the service
    alerts[9]["unknown_field"] = 1                            # not encodable: refused here
    with GrpcAlertClient(stack["ALERTS_GRPC_TARGET"], stack["ALERTS_PIPELINE_TOKEN"]) as client:
        result = client.send_batch(alerts, f"k-{uuid.uuid4()}", run_id="run-grpc~1",
                                   run_planned_at="2060-01-01T00:00:00+00:00")
        again = client.send_batch(alerts, f"k-{uuid.uuid4()}", run_id="run-grpc~1",
                                  run_planned_at="2060-01-01T00:00:00+00:00")
        run = client.complete_run(day, "run-grpc~1", "m-grpc", 1, 0, planned_at="2060-01-01T00:00:00+00:00")
    assert set(result) == {"received", "created", "updated", "duplicates", "refused", "results", "refusals"}
    assert (result["received"], result["created"], result["refused"]) == (250, 248, 2)
    assert [r["index"] for r in result["refusals"]] == [7, 9]
    assert "not sendable over gRPC" in result["refusals"][1]["reason"]
    assert (again["created"], again["duplicates"]) == (0, 248)
    assert run["complete"] and run["batches_done"] == 1 and run["withdrawn"] == 0


def test_transport_errors_match_the_rest_client(stack):
    with GrpcAlertClient(stack["ALERTS_GRPC_TARGET"], "wrong-token") as client:
        with pytest.raises(NonRetryableAlertError) as refused:
            client.send_batch([an_alert("G-e", a_day())], "k-e")
    assert refused.value.status == 401
    # A late batch of a superseded run: 410, which the fan-out skips.
    day = a_day()
    with GrpcAlertClient(stack["ALERTS_GRPC_TARGET"], stack["ALERTS_PIPELINE_TOKEN"]) as client:
        client.send_batch([an_alert("G-s", day)], f"k-{uuid.uuid4()}", "old~1", "2060-01-01T00:00:00+00:00")
        client.send_batch([an_alert("G-s", day)], f"k-{uuid.uuid4()}", "new~1", "2060-01-02T00:00:00+00:00")
        with pytest.raises(NonRetryableAlertError) as superseded:
            client.send_batch([an_alert("G-s2", day)], f"k-{uuid.uuid4()}", "old~1", "2060-01-01T00:00:00+00:00")
    assert superseded.value.status == 410


def test_rate_limit_is_shared_with_rest(stub, stack):
    # Unauthenticated calls are limited by address, as over REST: a burst runs out.
    codes = set()
    lock = threading.Lock()

    def hammer():
        for _ in range(150):
            try:
                stub.ListAlerts(pb.ListAlertsRequest(), metadata=bearer("guess"), timeout=10)
            except grpc.RpcError as exc:
                with lock:
                    codes.add(exc.code())
    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
    time.sleep(2.5)  # the address's buckets refill (100/s, burst 200) for the session's other tests
