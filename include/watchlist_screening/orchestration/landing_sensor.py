"""Wait for the day's airport files, then fail with a message on-call can act on.

Files are due within `wait_minutes` after the scan day ends (UTC); past that the sensor
fails instead of waiting out its timeout. A day can legitimately have no files (the
contract says so): a run with `landing_wait_minutes` = 0 does not wait.

Only airport files count as landed (landing.py: `<IATA>.jsonl[.gz]`, regular files, no
link followed). A folder that holds only other entries when the files are due is not a
late day but a broken feed: the run goes on, and the job reports each entry as a
file-level quarantine entry in the run summary, instead of failing here without one.

Deferrable by default: while files are not there, the wait is an asyncio task in the
triggerer (LandingFilesTrigger), holding no worker slot. `deferrable=False` falls back to
reschedule mode, for deployments without a triggerer.
"""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from watchlist_screening.errors import PermanentError
from watchlist_screening.normalise.landing import folder_listing
from watchlist_screening.orchestration.failures import fail_permanent_errors


def landing_files(day_dir: str | Path) -> list[str]:
    """The day's airport files present now, by name: what the job reads (landing.py's
    rule), so a link, a folder or a badly named file does not count as the day landing."""
    day_dir = Path(day_dir)
    return [f.path.name for f in folder_listing(day_dir, day_dir.parent).files]


def rejected_entries(day_dir: str | Path) -> list[str]:
    """The entries of the day folder the job will not read (reported as quarantine)."""
    day_dir = Path(day_dir)
    return [e.relative.rsplit("/", 1)[-1] for e in folder_listing(day_dir, day_dir.parent).rejected]


def due_at(scan_day: str, wait_minutes: float) -> dt.datetime:
    """When the day's files are late: `wait_minutes` after the day ends (UTC)."""
    day_end = dt.datetime.combine(dt.date.fromisoformat(scan_day) + dt.timedelta(days=1), dt.time(),
                                  tzinfo=dt.timezone.utc)
    return day_end + dt.timedelta(minutes=wait_minutes)


def late_message(day_dir: str, scan_day: str, wait_minutes: float) -> str:
    return (f"no landing files in {day_dir} for {scan_day}, due within {wait_minutes:.0f} min after the day ended: "
            "check the airports' uploads; if the day really had no passengers, re-run it with landing_wait_minutes=0")


class LandingFilesTrigger(BaseTrigger):
    """Fires `found` once the day directory holds an airport file, or `late` at `due`."""

    def __init__(self, day_dir: str, due: str, poll_seconds: float = 60.0):
        super().__init__()
        self.day_dir, self.due, self.poll_seconds = day_dir, due, poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"day_dir": self.day_dir, "due": self.due, "poll_seconds": self.poll_seconds})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        due = dt.datetime.fromisoformat(self.due)
        while True:
            # a directory listing can block on network storage: keep it off the event loop
            files = await asyncio.to_thread(landing_files, self.day_dir)
            if files:
                yield TriggerEvent({"status": "found", "files": files})
                return
            now = dt.datetime.now(dt.timezone.utc)
            if now >= due:
                rejected = await asyncio.to_thread(rejected_entries, self.day_dir)
                yield TriggerEvent({"status": "found", "files": [], "rejected": rejected} if rejected
                                   else {"status": "late"})
                return
            await asyncio.sleep(min(self.poll_seconds, (due - now).total_seconds()))


class LandingFilesSensor(BaseSensorOperator):
    template_fields = ("day_dir", "scan_day", "wait_minutes")

    def __init__(self, *, day_dir: str, scan_day: str, wait_minutes: str | int, deferrable: bool = True, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", 300)
        super().__init__(**kwargs)
        self.day_dir = day_dir
        self.scan_day = scan_day
        self.wait_minutes = wait_minutes
        self.deferrable = deferrable

    def execute(self, context) -> Any:
        if not self.deferrable:
            return super().execute(context)  # poke, reschedule, poke...
        if self.poke(context):
            return None
        self.log.info("deferring: the triggerer watches %s every %.0f s until %s", self.day_dir, self.poke_interval,
                      self._due().isoformat())
        self.defer(trigger=LandingFilesTrigger(self.day_dir, self._due().isoformat(), float(self.poke_interval)),
                   method_name="execute_complete")

    @fail_permanent_errors()
    def execute_complete(self, context, event: dict | None = None) -> None:
        if not event or event.get("status") != "found":
            raise PermanentError(late_message(self.day_dir, self.scan_day, self._wait()))
        self.log.info("%d landing file(s) in %s: %s", len(event["files"]), self.day_dir, event["files"])
        if event.get("rejected"):
            self.log.warning("entries that will not be read (file-level quarantine): %s", event["rejected"])

    def _wait(self) -> float:
        return float(self.wait_minutes or 0)

    def _due(self) -> dt.datetime:
        return due_at(self.scan_day, self._wait())

    @fail_permanent_errors()
    def poke(self, context) -> bool:
        files = landing_files(self.day_dir)
        if files:
            self.log.info("%d landing file(s) in %s: %s", len(files), self.day_dir, files)
            return True
        if self._wait() <= 0:
            self.log.warning("no landing files in %s; not waiting (landing_wait_minutes=0): an empty day", self.day_dir)
            return True
        if dt.datetime.now(dt.timezone.utc) >= self._due():
            rejected = rejected_entries(self.day_dir)
            if rejected:
                self.log.warning("no airport file in %s, only entries that will not be read (file-level "
                                 "quarantine, see the run summary): %s", self.day_dir, rejected)
                return True
            raise PermanentError(late_message(self.day_dir, self.scan_day, self._wait()))
        self.log.info("no landing files in %s yet (due by %s)", self.day_dir, self._due().isoformat())
        return False
