"""A Spark task attempt that committed its rows and was then superseded (its task failed
after the commit and ran again) must not publish them: publish removes them because the
attempts table shows the attempt committed, and leaves a day of only successful attempts
alone. Staged with the job's own writer pieces (finish, binary COPY) into a real warehouse."""
from __future__ import annotations

from datetime import date

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from tests.conftest import migrated_database
from tests.integration.test_spark_normalise import passenger
from watchlist_screening.normalise import binary_copy
from watchlist_screening.normalise.batch_rows import finish
from watchlist_screening.normalise.publish import publish_day
from watchlist_screening.normalise.records import PASSENGERS
from watchlist_screening.normalise.staging import (
    _copy_statement, _with_attempt, create_staging_tables, drop_staging_tables,
)

pytestmark = pytest.mark.integration
DAY = date(2033, 3, 3)


@pytest.fixture
def warehouse(stack_db):
    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        yield dsn


def _lines(file: str, scan_ids: list[str], bad: str | None = None) -> pa.RecordBatch:
    airport = file.rsplit("/", 1)[-1][:3]   # a line must carry its file's airport (or it is quarantined)
    texts = [passenger(s, airport, scanned_at="2033-03-03T10:00:00Z") for s in scan_ids] + ([bad] if bad else [])
    n = len(texts)
    return pa.RecordBatch.from_pydict({
        "source_file": [file] * n, "line_number": pa.array(range(1, n + 1), pa.int32()),
        "preset_reason": pa.nulls(n, pa.string()), "preset_detail": pa.nulls(n, pa.string()),
        "text": texts, "quarantine_text": pa.nulls(n, pa.string())})


def _write_attempt(dsn: str, tables, batch: pa.RecordBatch, attempt: int) -> None:
    """What one task attempt of the job writes, committed."""
    finished = finish(batch, PASSENGERS)
    with psycopg.connect(dsn) as conn:
        for table, schema, rows in ((tables.good, tables.good_schema, finished.good),
                                    (tables.bad, tables.bad_schema, finished.bad)):
            with conn.cursor().copy(_copy_statement(tables, table, schema)) as copy:
                copy.write(binary_copy.encode(_with_attempt(rows, schema, attempt)))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (%s)").format(tables.identifier(tables.attempts)), (attempt,))


def _day(dsn: str) -> tuple[list, list]:
    with psycopg.connect(dsn) as conn:
        passengers = conn.execute("SELECT scan_id FROM warehouse.passengers WHERE scan_day = %s ORDER BY 1",
                                  (DAY,)).fetchall()
        quarantine = conn.execute("SELECT source_file, line_number FROM warehouse.quarantine "
                                  "WHERE scan_day = %s ORDER BY 1, 2", (DAY,)).fetchall()
    return [p[0] for p in passengers], quarantine


def _stage_and_publish(dsn: str, attempts_written: dict[int, pa.RecordBatch], successful: list[int]):
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = create_staging_tables(conn, "passengers_test", "warehouse.passengers", PASSENGERS, DAY)
    try:
        for attempt, batch in attempts_written.items():
            _write_attempt(dsn, tables, batch, attempt)
        return publish_day(dsn, DAY, PASSENGERS, tables, successful, [], watchlist_version=None)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            drop_staging_tables(conn, tables)


def test_rows_of_a_superseded_attempt_are_not_published(warehouse):
    first_try = _lines("passengers/2033-03-03/AMS.jsonl", ["A-1", "A-2"], bad="not json")
    retry = _lines("passengers/2033-03-03/AMS.jsonl", ["A-1", "A-2"], bad="not json")
    other_file = _lines("passengers/2033-03-03/OSL.jsonl", ["O-1"])
    published, duplicates = _stage_and_publish(warehouse, {7: first_try, 9: retry, 8: other_file}, [8, 9])
    passengers, quarantine = _day(warehouse)
    assert passengers == ["A-1", "A-2", "O-1"]          # once each, though attempt 7 committed them too
    assert quarantine == [("passengers/2033-03-03/AMS.jsonl", 3)]
    assert published.rows == 3 and published.quarantined == 1 and duplicates == []


def test_a_day_of_successful_attempts_only_publishes_everything(warehouse):
    batch = _lines("passengers/2033-03-03/AMS.jsonl", ["A-1", "A-2", "A-3"], bad='{"scan_id": 5}')
    published, _ = _stage_and_publish(warehouse, {3: batch}, [3])
    passengers, quarantine = _day(warehouse)
    assert passengers == ["A-1", "A-2", "A-3"]
    assert quarantine == [("passengers/2033-03-03/AMS.jsonl", 4)]
    assert published.rows == 3
