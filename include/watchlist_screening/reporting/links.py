"""Where the reports are and how alerts link to them: paths, URLs and anchors only.

Kept apart from model_report.py and run_report.py, which build the reports with Splink
and DuckDB: the alert delivery (one mapped task per batch of alerts) and the run-report
URL step need only these links, and should not import Splink to get them."""
from __future__ import annotations

import datetime as dt
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


def _anchor_part(text: str) -> str:
    """`text` in [A-Za-z0-9.-] plus `_XX` escapes (UTF-8 bytes), with no `--` inside and no
    `-` at either end: two parts joined by `--` then split back one way only, so two alerts
    never share an anchor (`LHR-1--X`/`S` against `LHR-1`/`X--S`). Plain ids keep their
    spelling (the links alerts already carry stay valid)."""
    out = []
    for i, ch in enumerate(text):
        lone_dash = ch == "-" and 0 < i < len(text) - 1 and text[i - 1] != "-" and text[i + 1] != "-"
        if (ch.isascii() and (ch.isalnum() or ch == ".")) or lone_dash:
            out.append(ch)
        else:
            out.append("".join(f"_{b:02x}" for b in ch.encode("utf-8", "surrogatepass")))
    return "".join(out)


def alert_anchor(scan_id: str, subject_id: str) -> str:
    """The id of an alert's section in the run report: stable, URL- and HTML-id-safe, and
    different for every (scan_id, subject_id) pair."""
    return f"alert-{_anchor_part(scan_id)}--{_anchor_part(subject_id)}"


def alert_report_url(run_report_url: str, scan_id: str, subject_id: str) -> str:
    """The URL an alert carries: its own section of the day's run report."""
    return f"{run_report_url}#{alert_anchor(scan_id, subject_id)}"
