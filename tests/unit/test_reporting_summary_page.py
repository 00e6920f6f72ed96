"""The run summary as an HTML page."""
from __future__ import annotations

from watchlist_screening.reporting import summary_page


def test_summary_page_lists_stages_reasons_and_wall_times(tmp_path):
    summary = {"date": "2026-11-23", "passengers": 10, "quarantined": 2, "quarantined_by_reason": {"not_json": 2},
               "candidate_pairs": 100, "matches": 1, "alerts_sent": 1, "model_version": "m1", "watchlist_version": 3}
    steps = [{"task_id": "normalise", "tasks": 1, "seconds": 40.5, "max_try": 1, "cpu_seconds": 71.25,
              "peak_memory_mb": 2048.0},
             {"task_id": "send_alerts", "tasks": 3, "seconds": 1.5, "max_try": 2, "cpu_seconds": None,
              "peak_memory_mb": None}]
    html = summary_page.write(tmp_path, summary, steps).read_text()
    for text in ("not_json", "normalise", "40.5 s", "42.0 s", "m1", "candidate pairs", "71.2 s", "2,048.0 MB", "—"):
        assert text in html
