"""The landing-files wait: found as soon as a file lands, late (with a message that says
what to do) once the files are overdue; the trigger runs as the triggerer runs it."""
from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest

from watchlist_screening.orchestration.landing_sensor import LandingFilesSensor, LandingFilesTrigger, due_at, landing_files


def first_event(trigger: LandingFilesTrigger, timeout: float = 10.0) -> dict:
    async def run():
        async for event in trigger.run():
            return event.payload
    return asyncio.run(asyncio.wait_for(run(), timeout))


def test_trigger_fires_when_a_file_lands(tmp_path):
    day_dir = tmp_path / "passengers" / "2031-04-01"
    due = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).isoformat()

    def land():
        day_dir.mkdir(parents=True)
        (day_dir / "LHR.jsonl.gz").write_bytes(b"")
    threading.Timer(0.5, land).start()
    assert first_event(LandingFilesTrigger(str(day_dir), due, poll_seconds=0.1)) == {
        "status": "found", "files": ["LHR.jsonl.gz"]}


def test_trigger_says_late_at_the_due_time(tmp_path):
    due = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=0.5)).isoformat()
    assert first_event(LandingFilesTrigger(str(tmp_path / "nothing"), due, poll_seconds=60)) == {"status": "late"}


def test_trigger_round_trips_through_its_serialisation(tmp_path):
    trigger = LandingFilesTrigger(str(tmp_path), "2031-04-02T06:00:00+00:00", 30.0)
    path, kwargs = trigger.serialize()
    assert path == "watchlist_screening.orchestration.landing_sensor.LandingFilesTrigger"
    assert LandingFilesTrigger(**kwargs).serialize() == (path, kwargs)


def test_files_are_due_wait_minutes_after_the_day_ends():
    assert due_at("2031-04-01", 90) == dt.datetime(2031, 4, 2, 1, 30, tzinfo=dt.timezone.utc)


def sensor(day_dir, scan_day="2031-04-01", wait=360) -> LandingFilesSensor:
    return LandingFilesSensor(task_id="wait", day_dir=str(day_dir), scan_day=scan_day, wait_minutes=wait)


def test_an_overdue_day_fails_with_what_to_do(tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="check the airports' uploads.*landing_wait_minutes=0"):
        sensor(tmp_path).execute_complete({}, {"status": "late"})
    with pytest.raises(AirflowFailException, match="no landing files"):
        sensor(tmp_path, scan_day="2020-01-01").poke({})


def test_a_day_with_files_or_no_wait_does_not_defer(tmp_path):
    assert sensor(tmp_path, wait=0).execute({}) is None  # an empty day, screened as such
    (tmp_path / "CDG.jsonl").write_text("")
    assert sensor(tmp_path, scan_day="2020-01-01").execute({}) is None


def test_a_day_still_due_defers_to_the_triggerer(tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    future_day = (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)).isoformat()
    with pytest.raises(TaskDeferred) as deferred:
        sensor(tmp_path, scan_day=future_day).execute({})
    assert isinstance(deferred.value.trigger, LandingFilesTrigger)
    assert deferred.value.method_name == "execute_complete"


def test_only_airport_files_count_as_landed(tmp_path):
    """A link, a folder or a badly named file is not the day landing (issue 13): the
    sensor used to take anything matching *.jsonl*, links included."""
    day_dir = tmp_path / "2031-04-01"
    day_dir.mkdir()
    secret = tmp_path / "secret.env"
    secret.write_text("PASSWORD=x\n")
    (day_dir / "ZZZ.jsonl").symlink_to(secret)
    (day_dir / "ams.jsonl").write_text("{}\n")
    (day_dir / "FRA.jsonl.bak").write_text("{}\n")
    (day_dir / "MAD.jsonl").mkdir()
    assert landing_files(day_dir) == []
    due = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)).isoformat()
    with pytest.raises(asyncio.TimeoutError):
        first_event(LandingFilesTrigger(str(day_dir), due, poll_seconds=0.1), timeout=0.5)
    (day_dir / "LHR.jsonl.gz").write_bytes(b"")
    assert landing_files(day_dir) == ["LHR.jsonl.gz"]


def test_a_due_day_with_only_unreadable_entries_goes_on_to_report_them(tmp_path):
    """Failing here would leave no run summary: the job quarantines the entries instead."""
    (tmp_path / "ams.jsonl").write_text("{}\n")
    assert sensor(tmp_path, scan_day="2020-01-01").poke({}) is True
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).isoformat()
    assert first_event(LandingFilesTrigger(str(tmp_path), past)) == {
        "status": "found", "files": [], "rejected": ["ams.jsonl"]}
