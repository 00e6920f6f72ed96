"""On-call messages never carry secrets; the run-summary page shows every stage."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from watchlist_screening import oncall, summary_report


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


def test_summary_page_lists_stages_reasons_and_wall_times(tmp_path):
    summary = {"date": "2026-11-23", "passengers": 10, "quarantined": 2, "quarantined_by_reason": {"not_json": 2},
               "candidate_pairs": 100, "matches": 1, "alerts_sent": 1, "model_version": "m1", "watchlist_version": 3}
    steps = [{"task_id": "normalise", "tasks": 1, "seconds": 40.5, "max_try": 1},
             {"task_id": "send_alerts", "tasks": 3, "seconds": 1.5, "max_try": 2}]
    html = summary_report.write(tmp_path, summary, steps).read_text()
    for text in ("not_json", "normalise", "40.5 s", "42.0 s", "m1", "candidate pairs"):
        assert text in html
