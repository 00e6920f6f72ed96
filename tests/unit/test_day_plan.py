"""Planning the day's fan-out: batch slices far below max_map_length, each carrying where
the day's run report opens."""
from __future__ import annotations

from watchlist_screening import day


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
    assert len(batches) <= day.MAX_ALERT_BATCHES
    assert sum(b["limit"] for b in batches) >= 123_456


def test_without_a_base_url_reports_link_as_files(monkeypatch, tmp_path):
    monkeypatch.setenv("WATCHLIST_REPORT_DIR", str(tmp_path))
    monkeypatch.delenv("WATCHLIST_REPORT_BASE_URL", raising=False)
    assert day.run_report_url("2031-02-03") == (tmp_path / "run-2031-02-03.html").as_uri()


def test_a_dry_run_plans_no_alerts():
    assert day.plan_alert_batches(prepared(dry_run=True), {"matches": 5}) == []
