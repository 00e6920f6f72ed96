"""Issue 13 on the line side, without Spark: the contract's bounds, deep nesting, NUL and
a line in the wrong file, through both tiers (msgspec and the reference) and through the
job's Arrow finishing step (batch_rows.py) exactly as the Spark tasks call it."""
from __future__ import annotations

import json

import pytest

from tests.unit.test_normalise_validate import (
    GOOD_PASSENGER_LINES, GOOD_WATCHLIST_LINES, PASSENGER, PASSENGER_CASES, WATCHLIST, WATCHLIST_CASES, line,
)
from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.batch_rows import finish
from watchlist_screening.normalise.lines import line_batch
from watchlist_screening.normalise.raw_lines import LineBlock
from watchlist_screening.normalise.records import PASSENGERS, WATCHLIST as WATCHLIST_DATASET
from watchlist_screening.normalise.validate import check_line

AMS_FILE = "passengers/2026-03-01/AMS.jsonl"


def finished(lines: list[str], dataset=PASSENGERS, source_file: str = AMS_FILE):
    batch = line_batch(source_file, [LineBlock(1, [raw.encode("utf-8", errors="surrogatepass") for raw in lines])])
    return finish(batch, dataset)


def _bounded(fields, prefix=""):
    for field in fields:
        if field.max_length is not None:
            yield prefix + field.name, field
        if field.kind is c.Kind.ALIASES:
            yield from _bounded(c.ALIAS_FIELDS, prefix="aliases.")


def _with_value(base: dict, path: str, value) -> str:
    if path.startswith("aliases."):
        return line(base, aliases=[{"given_names": "J", "surname": "D", path.split(".", 1)[1]: value}])
    return line(base, **{path: value})


BOUNDED = [(base, dataset, path, field) for base, dataset in ((PASSENGER, PASSENGERS), (WATCHLIST, WATCHLIST_DATASET))
           for path, field in _bounded(dataset.fields)]


@pytest.mark.parametrize("base, dataset, path, field", BOUNDED, ids=[f"{d.name}.{p}" for _, d, p, _ in BOUNDED])
def test_every_bound_holds_in_both_tiers(base, dataset, path, field):
    """A value at its bound is good (and kept intact), one character more is quarantined
    as too_long naming the field; free text is kept, cut at the bound, with a warning."""
    at_bound = _with_value(base, path, "é" * field.max_length)
    beyond = _with_value(base, path, "é" * (field.max_length + 1))
    assert check_line(at_bound, dataset.fields)[1] is None
    assert dataset.tier1.decode(at_bound) is not None
    done = finished([at_bound, beyond], dataset)
    if field.cut_beyond_bound:
        assert check_line(beyond, dataset.fields)[1] is None and dataset.tier1.decode(beyond) is not None
        assert done.good.num_rows == 2 and done.bad.num_rows == 0
        assert done.good.column(path).to_pylist() == ["é" * field.max_length] * 2
        assert done.warnings.to_pylist() == [{
            "source_file": AMS_FILE, "line_number": 2, "reason": c.TEXT_CUT, "raw_text": beyond,
            "detail": f"field '{path}' is {field.max_length + 1} characters long: kept, cut to the first "
                      f"{field.max_length} (the entry is loaded)"}]
        return
    label = path.replace("aliases.", "aliases[0].")
    _, problem = check_line(beyond, dataset.fields)
    assert (problem.reason, problem.detail) == (
        c.TOO_LONG, f"field '{label}' is {field.max_length + 1} characters long, at most {field.max_length} allowed")
    assert dataset.tier1.decode(beyond) is None
    assert done.good.num_rows == 1 and done.bad.column("reason").to_pylist() == [c.TOO_LONG]
    assert done.bad.column("detail").to_pylist() == [problem.detail]
    if not path.startswith("aliases."):
        assert done.good.column(path).to_pylist() == ["é" * field.max_length]   # intact, not cut


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1f", "\x7f", "\x80", "\x9f", "\u2028", "\u2029", "\u202a", "\u202e",
                                  "\u2066", "\u2069", "\ufeff"])
@pytest.mark.parametrize("base, dataset, id_field", [(PASSENGER, PASSENGERS, "scan_id"),
                                                      (WATCHLIST, WATCHLIST_DATASET, "subject_id")])
def test_ids_must_be_printable(char, base, dataset, id_field):
    raw = line(base, **{id_field: f"ID{char}1"})
    _, problem = check_line(raw, dataset.fields)
    assert problem.reason == c.BAD_PATTERN and f"got U+{ord(char):04X} at character 3" in problem.detail
    assert dataset.tier1.decode(raw) is None
    done = finished([raw], dataset)
    assert done.bad.column("reason").to_pylist() == [c.BAD_PATTERN] and "\x00" not in done.bad.column("detail")[0].as_py()


def test_a_nul_in_a_name_is_quarantined_not_replaced():
    """An escaped \\u0000 used to become U+FFFD silently (issue 13, item 9)."""
    lines = [line(PASSENGER, given_names="An\u0000na"), line(PASSENGER, scan_id="S2", place_of_birth="\u0000"),
             line(PASSENGER, scan_id="S3", surname="back\\u0000slash")]   # an escaped backslash: no NUL
    done = finished(lines)
    assert done.bad.column("reason").to_pylist() == [c.NUL_CHARACTER, c.NUL_CHARACTER]
    assert done.bad.column("detail").to_pylist() == [
        "field 'given_names' contains a NUL character (\\u0000) at character 3",
        "field 'place_of_birth' contains a NUL character (\\u0000) at character 1"]
    assert done.good.column("surname").to_pylist() == ["back\\u0000slash"]


def test_a_nul_in_watchlist_free_text_keeps_the_entry():
    done = finished([line(WATCHLIST, caution="armed\u0000")], WATCHLIST_DATASET)
    assert done.good.column("caution").to_pylist() == ["armed\ufffd"]
    assert done.warnings.column("reason").to_pylist() == [c.TEXT_CUT]


def test_an_unknown_alias_key_holding_nul_still_gives_jsonb_text():
    """PostgreSQL's jsonb refuses the \\u0000 escape: the aliases text must not carry it."""
    raw = line(WATCHLIST, aliases=[{"given_names": "J", "surname": "D", "note": "a\u0000b"}])
    done = finished([raw], WATCHLIST_DATASET)
    aliases = done.good.column("aliases")[0].as_py()
    assert "\\u0000" not in aliases and json.loads(aliases)[0]["note"] == "a\ufffdb"


@pytest.mark.parametrize("dataset", [PASSENGERS, WATCHLIST_DATASET], ids=lambda d: d.name)
@pytest.mark.parametrize("raw", ["[" * 2000, "{" * 2000, '{"a":' * 2000, '{"a": ' + "[" * 5000 + "]" * 5000 + "}",
                                 "[" * 200_000], ids=["brackets", "braces", "keys", "closed", "200k"])
def test_a_deeply_nested_line_is_quarantined_not_a_failed_day(raw, dataset):
    """Issue 13 item 2: both decoders raised RecursionError, which failed the day."""
    done = finished([line(PASSENGER if dataset is PASSENGERS else WATCHLIST), raw], dataset)
    assert done.good.num_rows == 1
    assert done.bad.to_pylist() == [{"source_file": AMS_FILE, "line_number": 2, "reason": c.TOO_DEEP,
                                     "detail": c.TOO_DEEP_DETAIL, "raw_text": raw}]


def test_a_line_in_the_wrong_file_is_quarantined():
    """Issue 13 item 9: another day's or airport's scan was loaded into the file's."""
    lines = [line(PASSENGER, scan_id="S1"),
             line(PASSENGER, scan_id="S2", airport="CDG"),
             line(PASSENGER, scan_id="S3", scanned_at="2026-02-28T23:59:59Z"),
             line(PASSENGER, scan_id="S4", scanned_at="2026-03-02T00:30:00+02:00"),   # 2026-03-01 in UTC: good
             line(PASSENGER, scan_id="S5", scanned_at="2026-03-01T23:30:00-01:00"),   # 2026-03-02 in UTC
             line(PASSENGER, scan_id="S6", airport="cdg")]                            # a contract problem first
    done = finished(lines)
    assert done.good.column("scan_id").to_pylist() == ["S1", "S4"]
    assert [(r["line_number"], r["reason"], r["detail"]) for r in done.bad.to_pylist()] == [
        (2, c.WRONG_AIRPORT, "field 'airport' is 'CDG', but the file is AMS's"),
        (3, c.WRONG_DAY, "field 'scanned_at' is on 2026-02-28 (UTC), but the file is in the folder of 2026-03-01"),
        (5, c.WRONG_DAY, "field 'scanned_at' is on 2026-03-02 (UTC), but the file is in the folder of 2026-03-01"),
        (6, c.BAD_PATTERN, "field 'airport' must match ^[A-Z]{3}$, got 'cdg'")]
    gz = finished([line(PASSENGER, airport="CDG")], source_file="passengers/2026-03-01/CDG.jsonl.gz")
    assert gz.good.num_rows == 1


@pytest.mark.parametrize("raw, reason", [(raw, reason) for raw, reason, _ in PASSENGER_CASES]
                         + [(raw, None) for raw in GOOD_PASSENGER_LINES])
def test_passenger_tiers_agree(raw, reason):
    if reason is None or reason in (c.TOO_LONG, c.BAD_PATTERN, c.NUL_CHARACTER, c.TOO_DEEP):
        assert (PASSENGERS.tier1.decode(raw) is None) == (reason is not None)   # embeddings: checked per batch
    assert finished([raw]).bad.column("reason").to_pylist() == ([reason] if reason else [])


@pytest.mark.parametrize("raw, reason", [(raw, reason) for raw, reason, _ in WATCHLIST_CASES]
                         + [(raw, None) for raw in GOOD_WATCHLIST_LINES])
def test_watchlist_tiers_agree(raw, reason):
    if reason is None or reason in (c.TOO_LONG, c.BAD_PATTERN, c.NUL_CHARACTER, c.TOO_DEEP):
        assert (WATCHLIST_DATASET.tier1.decode(raw) is None) == (reason is not None)
    assert finished([raw], WATCHLIST_DATASET).bad.column("reason").to_pylist() == ([reason] if reason else [])
