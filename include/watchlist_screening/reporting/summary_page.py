"""The day's run summary as an HTML page: counts per stage, quarantine reasons, model,
alerts and wall time per task. Written next to the other reports; its path goes in the log."""
from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path


def _rows(pairs) -> str:
    return "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in pairs)


def _figure(value, unit: str) -> str:
    return "—" if value is None else f"{value:,.1f} {unit}"


def render(summary: dict, steps: list[dict]) -> str:
    stages = [("passengers loaded", summary["passengers"]), ("lines quarantined", summary["quarantined"]),
              ("candidate pairs", summary["candidate_pairs"]), ("matches", summary["matches"]),
              ("alerts sent", summary["alerts_sent"]), ("model version", summary["model_version"]),
              ("watchlist version", summary["watchlist_version"])]
    reasons = sorted((summary.get("quarantined_by_reason") or {}).items(), key=lambda kv: -kv[1])
    timing = "".join(
        f"<tr><th>{escape(s['task_id'])}</th><td>{s['seconds']:.1f} s</td><td>{_figure(s.get('cpu_seconds'), 's')}</td>"
        f"<td>{_figure(s.get('peak_memory_mb'), 'MB')}</td><td>{s['tasks']}</td><td>{s['max_try']}</td></tr>"
        for s in steps)
    total = sum(s["seconds"] for s in steps)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Run summary {escape(summary['date'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1.5em}}
th,td{{border:1px solid #ccc;padding:.3em .8em;text-align:left}}th{{background:#f4f4f4}}</style></head>
<body><h1>Watchlist screening — {escape(summary['date'])}</h1>
<h2>Stages</h2><table>{_rows(stages)}</table>
<h2>Quarantine reasons</h2><table>{_rows(reasons) or '<tr><td>none</td></tr>'}</table>
<h2>Time and memory per task</h2><table><tr><th>task</th><th>wall time</th><th>CPU time</th><th>peak memory</th>
<th>instances</th><th>tries</th></tr>
{timing}<tr><th>total</th><td>{total:.1f} s</td><td></td><td></td><td></td><td></td></tr></table>
<p>Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}.</p></body></html>
"""


def write(report_dir: Path, summary: dict, steps: list[dict]) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / f"run-summary-{summary['date']}.html"
    path.write_text(render(summary, steps), encoding="utf-8")
    return path
