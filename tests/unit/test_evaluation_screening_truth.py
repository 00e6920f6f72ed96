"""evaluate.alert_pairs_from_service: what the service holds for a day, paged, without the
alerts a re-run withdrew (they would count as false alerts of the day's latest run)."""
from __future__ import annotations

import datetime as dt

import requests

from watchlist_screening.evaluation.screening_truth import alert_pairs_from_service


class _Response:
    def __init__(self, items):
        self._items = items

    def raise_for_status(self):
        pass

    def json(self):
        return self._items


def test_withdrawn_alerts_are_left_out_across_pages(monkeypatch):
    statuses = ["new", "withdrawn", "confirmed", "false_positive", "needs_info"] * 120 + ["withdrawn", "new"]
    alerts = [{"scan_id": f"P-{i}", "subject_id": "W-1", "status": s} for i, s in enumerate(statuses)]
    calls = []

    def fake_get(url, params, headers, timeout):
        calls.append(params)
        assert url == "http://alerts.test/v1/alerts" and headers == {"Authorization": "Bearer tok"}
        return _Response(alerts[params["offset"]:params["offset"] + params["limit"]])

    monkeypatch.setattr(requests, "get", fake_get)
    pairs = alert_pairs_from_service("http://alerts.test", "tok", dt.date(2031, 2, 3))
    assert pairs == [(a["scan_id"], a["subject_id"]) for a in alerts if a["status"] != "withdrawn"]
    assert len(pairs) == 481
    # paging runs on what the service returned, not on what was kept
    assert [c["offset"] for c in calls] == [0, 500]
    assert all(c["date"] == "2031-02-03" for c in calls)
