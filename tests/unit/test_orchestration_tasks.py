"""The DAG's task bodies: planning the day's fan-out (batch slices far below
max_map_length, each carrying where the day's run report opens), the run report of a day
without a model, and the one mapping of PermanentError to AirflowFailException."""
from __future__ import annotations

import pytest

from watchlist_screening.alerts.planning import MAX_ALERT_BATCHES, NO_MODEL
from watchlist_screening.orchestration import tasks as day
from watchlist_screening.pipeline_settings import Settings


def prepared(**overrides) -> dict:
    return {"scan_day": "2031-02-03", "dry_run": False, **overrides}


def test_batches_cover_every_match_once_and_link_the_run_report(monkeypatch, tmp_path):
    monkeypatch.setenv("WATCHLIST_REPORT_DIR", str(tmp_path))
    monkeypatch.setenv("WATCHLIST_REPORT_BASE_URL", "https://alerts.example/review/reports/")
    monkeypatch.setenv("WATCHLIST_ALERT_BATCH_SIZE", "200")
    batches = day.plan_alert_batches(prepared(), {"matches": 450})
    assert [(b["index"], b["offset"], b["limit"]) for b in batches] == [(0, 0, 200), (1, 200, 200), (2, 400, 200)]
    assert {b["run_report_url"] for b in batches} == {"https://alerts.example/review/reports/run-2031-02-03.html"}


def test_batches_grow_rather_than_exceed_the_map_limit(monkeypatch):
    monkeypatch.setenv("WATCHLIST_ALERT_BATCH_SIZE", "10")
    batches = day.plan_alert_batches(prepared(), {"matches": 123_456})
    assert len(batches) <= MAX_ALERT_BATCHES
    assert sum(b["limit"] for b in batches) >= 123_456


def test_without_a_base_url_reports_link_as_files(monkeypatch, tmp_path):
    monkeypatch.setenv("WATCHLIST_REPORT_DIR", str(tmp_path))
    monkeypatch.delenv("WATCHLIST_REPORT_BASE_URL", raising=False)
    assert day.run_report_url("2031-02-03", Settings.from_env()) == (tmp_path / "run-2031-02-03.html").as_uri()


def test_a_dry_run_plans_no_alerts():
    assert day.plan_alert_batches(prepared(dry_run=True), {"matches": 5}) == []


def test_a_day_without_a_model_plans_no_batch_and_still_withdraws(monkeypatch):
    """A fresh warehouse's empty day has no model (nothing to train on): its run still tells
    the service it sends nothing, naming no model, so the day's earlier alerts are withdrawn."""
    from watchlist_screening.alerts import delivery
    from watchlist_screening.orchestration.connections import AlertingEndpoint

    completed = []
    monkeypatch.delenv("WATCHLIST_ALERT_TRANSPORT", raising=False)
    monkeypatch.setattr(day, "alerting_endpoint", lambda settings: AlertingEndpoint("http://alerts.test", "tok", None))
    monkeypatch.setattr(delivery, "complete_empty_day", lambda *args: completed.append(args) or {"withdrawn": 1})
    assert day.plan_alert_batches(prepared(), {"matches": 0, "model_version": None}) == []
    ((url, token, scan_day, run_id, model, planned_at, transport, grpc_target),) = completed
    assert (url, token, scan_day, model) == ("http://alerts.test", "tok", "2031-02-03", NO_MODEL)
    assert (transport, grpc_target) == ("rest", None)  # WATCHLIST_ALERT_TRANSPORT's default
    assert run_id and planned_at


def test_a_day_without_a_model_gets_a_run_report_without_alerts(monkeypatch, tmp_path):
    monkeypatch.setenv("WATCHLIST_REPORT_DIR", str(tmp_path))
    monkeypatch.delenv("WATCHLIST_REPORT_BASE_URL", raising=False)
    (tmp_path / "run-2031-02-03.html").write_text("an earlier run's alerts")
    monkeypatch.setattr(day, "warehouse_dsn", lambda settings: "postgresql://unused")
    urls = day.write_reports(prepared(), {"matches": 0, "candidate_pairs": 0, "model_version": None})
    assert urls == {"run_report": (tmp_path / "run-2031-02-03.html").as_uri()}
    page = (tmp_path / "run-2031-02-03.html").read_text()
    assert "No alerts this day." in page and NO_MODEL in page
    assert not list(tmp_path.glob("*.tmp"))


def test_a_permanent_error_fails_the_task_at_once_with_its_reason(tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="has no watchlist/watchlist.jsonl"):
        day.prepare_day({"date": "2031-02-03", "landing_dir": str(tmp_path)}, "2031-02-03")
