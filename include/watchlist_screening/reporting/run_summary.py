"""The day's run summary (the contract's JSON line), kept in warehouse.day_runs."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

import psycopg
from psycopg.rows import dict_row

from watchlist_screening.orchestration.task_timing import latest_run_id, read_steps
from watchlist_screening.pipeline_settings import Settings

_COLUMNS = ("passengers", "quarantined", "quarantined_by_reason", "candidate_pairs", "matches",
            "alerts_sent", "model_version", "watchlist_version")


def read_summary(dsn: str, day: dt.date) -> dict | None:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM warehouse.day_runs WHERE scan_day = %s", (day,)).fetchone()
    return {"date": day.isoformat(), **row} if row else None


def record_alerts_sent(dsn: str, day: dt.date, alerts_sent: int) -> dict:
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE warehouse.day_runs SET alerts_sent = %s, updated_at = now() WHERE scan_day = %s",
                     (alerts_sent, day))
    return read_summary(dsn, day)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a day's run summary as one JSON line.")
    parser.add_argument("--date", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--dsn", default=Settings.from_env().warehouse_dsn)
    args = parser.parse_args(argv)
    summary = read_summary(args.dsn, args.date)
    if summary is None:
        print(f"no run recorded for {args.date}", file=sys.stderr)
        return 1
    run_id = latest_run_id(args.dsn, args.date)
    # beyond the contract's fields: where the run's time, CPU and memory went, per task
    summary["tasks"] = read_steps(args.dsn, args.date, run_id) if run_id else []
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
