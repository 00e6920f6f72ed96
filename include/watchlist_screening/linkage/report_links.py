"""Where the reports are and how alerts link to them: paths, URLs and anchors only.

Kept apart from reports.py, which builds the reports with Splink and DuckDB: the fan-out
(one mapped task per batch of alerts) and the run-report URL step need only these links,
and should not import Splink to get them."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path


def day_text(day: dt.date | str) -> str:
    return day.isoformat() if isinstance(day, dt.date) else str(day)


def model_report_path(report_dir: Path, model_version: str) -> Path:
    return Path(report_dir) / f"{model_version}.html"


def run_report_path(report_dir: Path, day: dt.date | str) -> Path:
    return Path(report_dir) / f"run-{day_text(day)}.html"


def report_url(path: Path, base_url: str | None = None) -> str:
    """Where a reviewer opens a report: `<base_url>/<file name>` when the report directory
    is served (e.g. WATCHLIST_REPORT_BASE_URL), else a file:// URL."""
    if base_url:
        return f"{base_url.rstrip('/')}/{Path(path).name}"
    return Path(path).resolve().as_uri()


def alert_anchor(scan_id: str, subject_id: str) -> str:
    """The id of an alert's section in the run report (stable, URL-safe)."""
    return "alert-" + re.sub(r"[^A-Za-z0-9_.-]", "_", f"{scan_id}--{subject_id}")


def alert_report_url(run_report_url: str, scan_id: str, subject_id: str) -> str:
    """The URL an alert carries: its own section of the day's run report."""
    return f"{run_report_url}#{alert_anchor(scan_id, subject_id)}"
