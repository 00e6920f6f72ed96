"""Score a screened day against the generator's truth: sighting recall and alert precision.

A sighting counts as found when at least one alert names the scan and any watchlist
entry of that person; an alert is correct when its subject is one of them. Truth files are
read here only; the pipeline never sees them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Evaluation:
    date: str
    sightings: int
    sightings_found: int
    alerts: int
    correct_alerts: int
    recall: float
    precision: float
    missed_scan_ids: list[str]
    false_alerts: list[tuple[str, str]]


def load_truth(landing_dir: Path, day: dt.date) -> dict[str, set[str]]:
    path = landing_dir / "truth" / f"{day.isoformat()}.jsonl"
    truth: dict[str, set[str]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                truth[record["scan_id"]] = set(record["subject_ids"])
    return truth


def evaluate(truth: dict[str, set[str]], pairs: list[tuple[str, str]], day: dt.date) -> Evaluation:
    pairs = sorted(set(pairs))
    correct = [(s, w) for s, w in pairs if w in truth.get(s, ())]
    found = {s for s, _ in correct}
    missed = sorted(set(truth) - found)
    return Evaluation(
        date=day.isoformat(),
        sightings=len(truth),
        sightings_found=len(found),
        alerts=len(pairs),
        correct_alerts=len(correct),
        recall=len(found) / len(truth) if truth else 1.0,
        precision=len(correct) / len(pairs) if pairs else 1.0,
        missed_scan_ids=missed,
        false_alerts=[p for p in pairs if p not in set(correct)],
    )


def alert_pairs_from_service(base_url: str, token: str, day: dt.date) -> list[tuple[str, str]]:
    """The (scan_id, subject_id) of the day's alerts the service holds, except the withdrawn
    ones: a re-run withdraws what it no longer supports, and those are no alert of the day's
    latest run (counted, they would be false alerts)."""
    import requests

    pairs, offset, page = [], 0, 500
    while True:
        response = requests.get(f"{base_url}/v1/alerts", params={"date": day.isoformat(), "limit": page, "offset": offset},
                                headers={"Authorization": f"Bearer {token}"}, timeout=30)
        response.raise_for_status()
        items = response.json()
        pairs += [(a["scan_id"], a["subject_id"]) for a in items if a.get("status") != "withdrawn"]
        if len(items) < page:
            return pairs
        offset += page


def match_pairs_from_warehouse(dsn: str, day: dt.date) -> list[tuple[str, str]]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT scan_id, subject_id FROM warehouse.matches WHERE scan_day = %s", (day,)).fetchall()


def main(argv: list[str] | None = None) -> int:
    from watchlist_screening.pipeline_settings import Settings

    settings = Settings.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--landing-dir", type=Path, default=settings.landing_dir)
    parser.add_argument("--source", choices=["alerts", "matches"], default="alerts",
                        help="score what the alerting service holds (default) or the warehouse matches")
    args = parser.parse_args(argv)
    if args.source == "alerts":
        token_file = settings.local_dir / "reviewer.token"
        token = token_file.read_text().strip() if token_file.exists() else ""
        pairs = alert_pairs_from_service(settings.alerts_url, token, args.date)
    else:
        pairs = match_pairs_from_warehouse(settings.warehouse_dsn, args.date)
    result = evaluate(load_truth(args.landing_dir, args.date), pairs, args.date)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
