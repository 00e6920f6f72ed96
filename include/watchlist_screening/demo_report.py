"""`make demo`'s closing report: the run summary beside precision/recall against truth."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from watchlist_screening.config import LOCAL_DIR, Settings
from watchlist_screening.day import run_report_url
from watchlist_screening.evaluate import alert_pairs_from_service, evaluate, load_truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--summary", type=Path, required=True, help="file whose last line is the run-summary JSON")
    parser.add_argument("--landing-dir", type=Path, required=True)
    parser.add_argument("--date", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    summary = json.loads(args.summary.read_text().strip().splitlines()[-1])
    settings = Settings.from_env()
    token = (LOCAL_DIR / "reviewer.token").read_text().strip()
    result = evaluate(load_truth(args.landing_dir, args.date),
                      alert_pairs_from_service(settings.alerts_url, token, args.date), args.date)
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(summary["quarantined_by_reason"].items())) or "none"
    print(f"""
Watchlist screening demo — {summary['date']}  (landing dir {args.landing_dir})
  passengers read      {summary['passengers']}
  rows quarantined     {summary['quarantined']}  ({reasons})
  candidate pairs      {summary['candidate_pairs']}
  matches              {summary['matches']}
  alerts sent          {summary['alerts_sent']}  (service now holds {result.alerts} for the day)
  model version        {summary['model_version']}
  sightings in truth   {result.sightings}
  recall               {result.recall:.3f}  ({result.sightings_found}/{result.sightings} sightings alerted)
  precision            {result.precision:.3f}  ({result.correct_alerts}/{result.alerts} alerts correct)

  review the alerts    {settings.alerts_url}/review?date={summary['date']}  (log in with the token in {LOCAL_DIR / 'reviewer.token'})
  run report           {run_report_url(summary['date'])}

run summary: {json.dumps(summary)}""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
