"""`make demo`'s closing report: the run summary beside precision/recall against truth."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from watchlist_screening.evaluation.screening_truth import alert_pairs_from_service, evaluate, load_truth
from watchlist_screening.pipeline_settings import Settings
from watchlist_screening.reporting.links import report_url, run_report_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--summary", type=Path, required=True, help="file whose last line is the run-summary JSON")
    parser.add_argument("--landing-dir", type=Path, required=True)
    parser.add_argument("--date", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    summary = json.loads(args.summary.read_text().strip().splitlines()[-1])
    settings = Settings.from_env()
    token_file = settings.local_dir / "reviewer.token"
    token = token_file.read_text().strip()
    result = evaluate(load_truth(args.landing_dir, args.date),
                      alert_pairs_from_service(settings.alerts_url, token, args.date), args.date)
    run_report = report_url(run_report_path(settings.report_dir, summary["date"]), settings.report_base_url)
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

  review the alerts    {settings.alerts_url}/review?date={summary['date']}  (log in with the token in {token_file})
  run report           {run_report}

run summary: {json.dumps(summary)}""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
