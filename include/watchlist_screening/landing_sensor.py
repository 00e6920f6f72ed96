"""Wait for the day's airport files, then fail with a message on-call can act on.

Files are due within `wait_minutes` after the scan day ends (UTC); past that the sensor
fails instead of waiting out its timeout. Reschedule mode frees the worker slot between
pokes. A day can legitimately have no files (the contract says so): a run with
`landing_wait_minutes` = 0 does not wait.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from airflow.sdk import BaseSensorOperator


class LandingFilesSensor(BaseSensorOperator):
    template_fields = ("day_dir", "scan_day", "wait_minutes")

    def __init__(self, *, day_dir: str, scan_day: str, wait_minutes: str | int, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", 300)
        super().__init__(**kwargs)
        self.day_dir = day_dir
        self.scan_day = scan_day
        self.wait_minutes = wait_minutes

    def poke(self, context) -> bool:
        from airflow.sdk.exceptions import AirflowFailException

        day_dir = Path(self.day_dir)
        files = sorted(p.name for p in day_dir.glob("*.jsonl*")) if day_dir.is_dir() else []
        if files:
            self.log.info("%d landing file(s) in %s: %s", len(files), day_dir, files)
            return True
        wait = float(self.wait_minutes or 0)
        if wait <= 0:
            self.log.warning("no landing files in %s; not waiting (landing_wait_minutes=0): an empty day", day_dir)
            return True
        day_end = dt.datetime.combine(dt.date.fromisoformat(self.scan_day) + dt.timedelta(days=1), dt.time(),
                                      tzinfo=dt.timezone.utc)
        waited = (dt.datetime.now(dt.timezone.utc) - day_end).total_seconds() / 60
        if waited >= wait:
            raise AirflowFailException(
                f"no landing files in {day_dir} {waited:.0f} min after the day ended (due within {wait:.0f}): check the "
                "airports' uploads; if the day really had no passengers, re-run it with landing_wait_minutes=0")
        self.log.info("no landing files in %s yet (%.0f of %.0f min after the day ended)", day_dir, waited, wait)
        return False
