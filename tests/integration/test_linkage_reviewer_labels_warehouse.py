"""Reviewer labels name pairs from any day: their records come out of the warehouse by id,
shaped exactly as the day's scoring tables (reviewer_labels.load_labelled_records)."""
from __future__ import annotations

import pytest

from watchlist_screening.linkage import reviewer_labels as labels

pytestmark = pytest.mark.integration

EMBEDDING = [1.0] + [0.0] * 127


@pytest.fixture(scope="module")
def warehouse(stack_db):
    import psycopg

    from tests.conftest import migrated_database

    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        with psycopg.connect(dsn) as conn:
            conn.execute("INSERT INTO warehouse.watchlist_versions (version_id, content_hash, source_file, row_count, "
                         "quarantined) VALUES (1, 'h', 'watchlist.jsonl', 2, 0)")
            for subject, names, dobs in (("W1", ["ali hassan", "hassan ali b"], ["1980-01-02", "1981-02-01"]),
                                         ("W2", ["jo smith"], [])):
                conn.execute("""INSERT INTO warehouse.watchlist (version_id, subject_id, surname_norm, all_names_norm,
                                    all_dobs, sex, height_cm, eye_colour, face_embedding, source_line)
                                VALUES (1, %s, 'hassan', %s, %s::date[], 'M', 180, 'brown', %s, 1)""",
                             (subject, names, dobs, EMBEDDING))
            for day, scan in (("2031-01-05", "S1"), ("2031-01-09", "S2")):
                part = f"passengers_{day.replace('-', '')}_t"
                conn.execute(f"CREATE TABLE warehouse.{part} PARTITION OF warehouse.passengers FOR VALUES IN ('{day}')")
                conn.execute("""INSERT INTO warehouse.passengers (scan_day, scan_id, airport, scanned_at, surname_norm,
                                    full_name_norm, date_of_birth, sex, height_cm, eye_colour, face_embedding,
                                    source_file, source_line)
                                VALUES (%s, %s, 'OSL', %s::date, 'hassan', 'hassan ali', '1980-01-02', 'M', 181.5,
                                        'brown', %s, 'f', 1)""", (day, scan, day, EMBEDDING))
        yield dsn


def test_labelled_records_come_from_any_day_in_scoring_shape(warehouse):
    reviewed = [{"review_id": 1, "scan_id": "S1", "subject_id": "W1", "decision": "confirmed"},
                {"review_id": 2, "scan_id": "S2", "subject_id": "W2", "decision": "false_positive"},
                {"review_id": 3, "scan_id": "S9", "subject_id": "W1", "decision": "needs_info"}]
    con = labels.load_labelled_records(warehouse, reviewed, watchlist_version=1)
    passengers = con.execute("SELECT unique_id, name_keys, all_dobs, height_cm, len(face_embedding) "
                             "FROM passengers ORDER BY unique_id").fetchall()
    assert [p[0] for p in passengers] == ["S1", "S2"]  # S9 is undecided: not fetched
    assert passengers[0][1] == ["ali hassan"] and str(passengers[0][2][0]) == "1980-01-02"
    assert passengers[0][3] == 181.5 and passengers[0][4] == 128
    watchlist = dict(con.execute("SELECT unique_id, name_keys FROM watchlist").fetchall())
    assert watchlist == {"W1": ["ali hassan", "ali b hassan"], "W2": ["jo smith"]}
    assert labels._register_pairs(con, labels.decisions(reviewed)) == 2
