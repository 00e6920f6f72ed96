"""On-call messages never carry secrets; the run-summary page shows every stage."""
from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from watchlist_screening.orchestration import oncall


def test_redact_hides_passwords_in_connection_urls():
    text = 'missing "=" after "postgresql+psycopg://pipeline:s3cr3t@127.0.0.1:55432/warehouse"'
    assert "s3cr3t" not in oncall.redact(text)
    assert "pipeline:***@127.0.0.1" in oncall.redact(text)
    for secret_text in ("host=h password=s3cr3t dbname=d", "postgresql://h/?x%20password%3Ds3cr3t%20y", "password='s3cr3t'"):
        assert "s3cr3t" not in oncall.redact(secret_text), secret_text


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_failure_report_reaches_the_webhook(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("WATCHLIST_ONCALL_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook")

    class TI:
        dag_id, task_id, map_index, try_number, log_url = "watchlist_screening", "score_day", -1, 2, "http://ui/log"

    class Run:
        run_id = "scheduled__2026-11-23"

    try:
        oncall.OnCallNotifier().notify({"ti": TI(), "dag_run": Run(), "ds": "2026-11-24", "params": {"date": "2026-11-23"},
                                        "exception": RuntimeError("postgresql://u:pw@h/db refused")})
    finally:
        server.shutdown()
    report = _Receiver.received[-1]
    assert report["task_id"] == "score_day" and report["scan_day"] == "2026-11-23" and report["try_number"] == 2
    assert report["log_url"] == "http://ui/log" and "pw@" not in report["error"]


def _deadline_context(queued_at: str) -> dict:
    # the shape Airflow 3.3's scheduler hands deadline callbacks (Deadline.handle_miss)
    return {"dag_run": {"dag_id": "watchlist_screening", "dag_run_id": "scheduled__2026-11-23T00:00:00+00:00",
                        "run_type": "scheduled", "state": "running", "conf": {},
                        "logical_date": "2026-11-23T00:00:00Z", "queued_at": queued_at},
            "deadline": {"id": "d1", "deadline_time": dt.datetime(2026, 11, 24, 9, tzinfo=dt.timezone.utc)}}


def test_missed_deadline_pages_on_call_with_the_day(monkeypatch):
    posted = []
    monkeypatch.setattr(oncall, "post_to_webhook", lambda report, *a, **k: posted.append(report))
    oncall.notify_deadline_missed(context=_deadline_context("2026-11-24T00:00:05Z"))
    assert posted == [{"alert": "deadline_missed", "dag_id": "watchlist_screening",
                       "run_id": "scheduled__2026-11-23T00:00:00+00:00", "run_type": "scheduled", "state": "running",
                       "scan_day": "2026-11-23", "queued_at": "2026-11-24T00:00:05Z",
                       "deadline_time": "2026-11-24 09:00:00+00:00"}]


def test_a_run_queued_after_its_deadline_is_logged_not_paged(monkeypatch, caplog):
    posted = []
    monkeypatch.setattr(oncall, "post_to_webhook", lambda report, *a, **k: posted.append(report))
    oncall.notify_deadline_missed(context=_deadline_context("2026-12-01T10:00:00Z"))  # a backfill a week later
    assert posted == [] and "not paging" in caplog.text
