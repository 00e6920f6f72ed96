"""Encoded lines (normalise/encoded_lines.py, encoded_rows.py) and the manifest
(encoded_manifest.py): what is good, what is quarantined with which reason and detail,
and that no clear identity value reaches a staged or quarantined row."""
from __future__ import annotations

import json
from datetime import date

import pytest

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise import encoded_lines as e
from watchlist_screening.normalise.encoded_manifest import KeyMismatch, Manifest, ManifestError, check_same_key, read_manifest
from watchlist_screening.normalise.encoded_rows import ENCODED_PASSENGERS, ENCODED_WATCHLIST, finish
from watchlist_screening.normalise.lines import line_batch
from watchlist_screening.normalise.raw_lines import LineBlock
from watchlist_screening.privacy import records

SECRET = bytes(range(32))
DAY = "2031-01-01"
CLEAR_PASSENGER = {"scan_id": "LHR-1", "airport": "LHR", "scanned_at": f"{DAY}T10:00:00Z", "direction": "arrival",
                   "flight_number": "BA1", "document_number": "X123", "given_names": "Zoë", "surname": "Dvořák",
                   "date_of_birth": "1980-01-02", "place_of_birth": "Brno", "nationality": "CZE", "sex": "F",
                   "height_cm": 170, "eye_colour": "blue", "face_embedding": [float(i % 5 + 1) for i in range(128)]}
CLEAR_SUBJECT = {"subject_id": "S1", "given_names": "Иван", "surname": "Петров", "date_of_birth": "1970-05-06",
                 "sex": "M", "height_cm": 180, "eye_colour": "grey", "face_embedding": [0.5] * 128,
                 "offence": "fraud", "aliases": [{"given_names": "John", "surname": "Peters"}]}


@pytest.fixture()
def passenger() -> dict:
    return records.encode_passenger(CLEAR_PASSENGER, SECRET)


@pytest.fixture()
def subject() -> dict:
    return records.encode_watchlist_entry(CLEAR_SUBJECT, SECRET)


def _problem(record: dict, schema=e.PASSENGERS):
    return e.check_line(json.dumps(record), schema)[1]


def test_the_encoders_lines_are_good(passenger, subject):
    record, problem = e.check_line(json.dumps(passenger), e.PASSENGERS)
    assert problem is None and record["scanned_at"].isoformat() == f"{DAY}T10:00:00+00:00"
    assert e.check_line(json.dumps(subject), e.WATCHLIST) == (subject, None)


@pytest.mark.parametrize(("change", "reason", "detail"), [
    ({"surname": "Dvořák"}, e.CLEAR_FIELD_PRESENT, "field 'surname' is a clear identity field"),
    ({"face_embedding": [1.0] * 128}, e.CLEAR_FIELD_PRESENT, "field 'face_embedding'"),
    ({"encoding": "watchlist-pprl/2"}, e.WRONG_ENCODING, "field 'encoding' must be 'watchlist-pprl/1', got 'watchlist-pprl/2'"),
    ({"encoding": None}, c.MISSING_FIELD, "required field 'encoding' is null"),
    ({"name_clk": "QUJD"}, e.BAD_CLK, "field 'name_clk' must be standard base64 of 128 bytes"),
    ({"dob_clk": "!" * 172}, e.BAD_CLK, "field 'dob_clk' must be standard base64 of 128 bytes (a 1024-bit CLK): not base64"),
    ({"surname_clk": 7}, c.WRONG_TYPE, "field 'surname_clk' must be a string, got number"),
    ({"face_template": [0.0] * 128}, c.BAD_EMBEDDING, "field 'face_template' cannot be scaled"),
    ({"face_template": [0.1] * 12}, c.BAD_EMBEDDING, "field 'face_template' has 12 values"),
    ({"height_cm": 900}, c.OUT_OF_RANGE, "field 'height_cm' is 900, outside 50..260"),
    ({"scan_id": ""}, c.EMPTY_STRING, "field 'scan_id' must not be empty"),
    ({"scanned_at": "yesterday"}, c.BAD_DATETIME, "field 'scanned_at' is not a valid RFC 3339"),
])
def test_a_bad_passenger_line_is_named_like_a_clear_one(passenger, change, reason, detail):
    problem = _problem({**passenger, **change})
    assert problem.reason == reason and problem.detail.startswith(detail), problem


def test_null_clks_are_an_absent_field_not_a_problem(passenger):
    assert _problem({**passenger, "name_clk": None, "place_of_birth_clk": None}) is None


@pytest.mark.parametrize(("change", "reason", "detail"), [
    ({"name_clks": []}, c.MISSING_FIELD, "field 'name_clks' must not be empty"),
    ({"name_clks": None}, c.MISSING_FIELD, "required field 'name_clks' is null"),
    ({"offence": "fraud"}, e.CLEAR_FIELD_PRESENT, "field 'offence'"),
    ({"aliases": []}, e.CLEAR_FIELD_PRESENT, "field 'aliases'"),
    ({"surname_clks": ["x"]}, e.BAD_CLK, "field 'surname_clks[0]'"),
    ({"dob_clks": [None]}, e.CLK_LISTS_DIFFER, "field 'dob_clks' has 1 items, 'name_clks' 2"),
])
def test_a_bad_watchlist_line_is_named(subject, change, reason, detail):
    problem = _problem({**subject, **change}, e.WATCHLIST)
    assert problem.reason == reason and problem.detail.startswith(detail), problem


def test_a_quarantined_lines_clear_values_are_withheld(passenger):
    line = json.dumps({**passenger, "surname": "Dvořák", "given_names": "Zoë"}, ensure_ascii=False)
    kept = e.withheld(line)
    assert "Dvořák" not in kept and "Zoë" not in kept
    assert json.loads(kept)["scan_id"] == "LHR-1" and json.loads(kept)["surname"] == e.WITHHELD
    assert e.withheld('{"surname": "Dvořák", broken') == e.WITHHELD_LINE
    assert e.withheld("not json at all") == "not json at all"


def _batch(source_file: str, lines: list[str]):
    return line_batch(source_file, [LineBlock(1, [line.encode() for line in lines])])


def test_a_batch_becomes_staged_rows_and_quarantine_rows_without_a_clear_value(passenger):
    other = {**passenger, "scan_id": "LHR-2"}
    lines = [json.dumps(passenger), "not json", json.dumps({**other, "surname": "Dvořák"}, ensure_ascii=False),
             json.dumps({**other, "scanned_at": "2031-01-02T00:00:01Z"}), json.dumps({**other, "airport": "CDG"}),
             json.dumps(other)]
    finished = finish(_batch(f"passengers/{DAY}/LHR.jsonl", lines), ENCODED_PASSENGERS)
    good = finished.good.to_pylist()
    assert [(r["scan_id"], r["source_line"]) for r in good] == [("LHR-1", 1), ("LHR-2", 6)]
    assert list(finished.good.column_names) == ["source_file", "source_line", *ENCODED_PASSENGERS.staged]
    assert good[0]["name_clk"] == passenger["name_clk"] and good[0]["dob_clk"] == passenger["dob_clk"]
    assert sum(x * x for x in good[0]["face_embedding"]) == pytest.approx(1.0, rel=1e-5)
    bad = finished.bad.to_pylist()
    assert [(r["line_number"], r["reason"]) for r in bad] == [
        (2, c.NOT_JSON), (3, e.CLEAR_FIELD_PRESENT), (4, c.WRONG_DAY), (5, c.WRONG_AIRPORT)]
    assert "Dvořák" not in json.dumps(bad, ensure_ascii=False) and bad[1]["raw_text"].startswith("{")


def test_a_watchlist_batch_keeps_every_listed_clk_and_empty_clear_lists(subject):
    finished = finish(_batch("watchlist/watchlist.jsonl", [json.dumps(subject)]), ENCODED_WATCHLIST)
    row = finished.good.to_pylist()[0]
    assert row["name_clks"] == subject["name_clks"] and len(row["name_clks"]) == 2
    # the alias has no date of birth: its null is left out, the primary's kept
    assert row["dob_clks"] == [subject["dob_clk"]]
    assert row["all_names_norm"] == [] and row["all_dobs"] == [] and row["listed_on"] is None
    assert finished.bad.num_rows == 0


def _manifest(tmp_path, **fields):
    value = {"linkage_schema": "watchlist-pprl", "version": 1, "key_fingerprint": "0123456789abcdef", **fields}
    (tmp_path / "encoding.json").write_text(json.dumps(value))
    return tmp_path


def test_the_manifest_is_read_and_checked(tmp_path):
    assert read_manifest(_manifest(tmp_path)) == Manifest("encoding.json", "0123456789abcdef")
    for bad, named in (({"version": 2}, "field 'version' must be 1"),
                       ({"linkage_schema": "other"}, "field 'linkage_schema'"),
                       ({"key_fingerprint": "XYZ"}, "field 'key_fingerprint' must be 16 lower-case hex")):
        with pytest.raises(ManifestError, match=named):
            read_manifest(_manifest(tmp_path, **bad))
    with pytest.raises(ManifestError, match="missing"):
        read_manifest(tmp_path / "nowhere")


def test_a_day_under_another_key_than_its_watchlist_is_refused_naming_both():
    day = Manifest("encoding.json", "1111111111111111")
    check_same_key(3, "encoded", "1111111111111111", date(2031, 1, 1), day)
    with pytest.raises(KeyMismatch, match="2222222222222222.*1111111111111111"):
        check_same_key(3, "encoded", "2222222222222222", date(2031, 1, 1), day)
    with pytest.raises(KeyMismatch, match="loaded in clear mode"):
        check_same_key(3, "clear", None, date(2031, 1, 1), day)
