"""Property-based fuzzing of the feed (issue 13): arbitrary bytes, arbitrary JSON values
and mutated valid lines, in .jsonl and .jsonl.gz (whole or cut short), beside links and
badly named entries, through the job's own reading and checking code (landing.py,
raw_lines.py, lines.py, batch_rows.py with both tiers; Spark only runs these in its tasks).

Properties: the day finishes (no exception), every line is exactly one good row or one
quarantine row, what is stored is storable (no NUL, valid UTF-8), and nothing outside the
landing folder is opened. Bounded: a fixed number of examples, derandomised, no example
database; the whole module takes well under a minute.
"""
from __future__ import annotations

import gzip
import json
import logging
import os
import re
import sys
import tempfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from tests.unit.test_feed_landing import Opened
from tests.unit.test_normalise_validate import PASSENGER, WATCHLIST
from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.batch_rows import finish
from watchlist_screening.normalise.landing import day_listing, watchlist_file
from watchlist_screening.normalise.lines import line_batches
from watchlist_screening.normalise.raw_lines import line_blocks
from watchlist_screening.normalise.records import PASSENGERS, WATCHLIST as WATCHLIST_DATASET

DAY = date(2026, 3, 1)
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_TERMINATOR = re.compile(rb"\r\n|\r|\n")
# What a lazy import or a time zone lookup opens on the way: code and system data, not feeds.
_SYSTEM = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)} | {"/usr/share/zoneinfo"})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30)
# Characters that matter to the checks: controls, NUL, bidi, separators, BOM, surrogates
# (as JSON escapes), quotes and brackets, and anything else.
awkward_text = st.text(alphabet=st.sampled_from(
    ["\x00", "\x01", "\x1f", "\x7f", "\x85", "\u2028", "\u202e", "\ufeff", '"', "\\", "[", "{", "}", "]", "é", "😀",
     "a", "Z", "0", " ", "\t"]) | st.characters(), max_size=40)


@pytest.fixture(scope="module", autouse=True)
def _quiet_listing():
    """Every example lists its traps: their warnings would bury a failure's report."""
    listing_log = logging.getLogger("watchlist_screening.normalise.landing")
    level = listing_log.level
    listing_log.setLevel(logging.ERROR)
    yield
    listing_log.setLevel(level)


def _json_text(value) -> str:
    return json.dumps(value, ensure_ascii=False)   # NaN and Infinity included: not JSON


@st.composite
def mutated_lines(draw, base: dict) -> str:
    record = dict(base)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(record) + ["extra", "aliases", "offence"]))
        action = draw(st.sampled_from(["value", "text", "long", "drop"]))
        if action == "drop":
            record.pop(name, None)
        elif action == "value":
            record[name] = draw(json_values)
        elif action == "text":
            record[name] = draw(awkward_text)
        else:
            record[name] = draw(st.sampled_from(["x", "é", "\x00"])) * draw(st.sampled_from([127, 128, 129, 200, 201,
                                                                                              2000, 2001]))
    text = _json_text(record)
    edit = draw(st.sampled_from(["none", "cut", "insert", "nest"]))
    at = draw(st.integers(0, len(text)))
    if edit == "cut":
        text = text[:at]
    elif edit == "insert":
        text = text[:at] + draw(awkward_text) + text[at:]
    elif edit == "nest":
        text = text[:at] + draw(st.sampled_from(["[", "{", '{"a":'])) * draw(st.integers(60, 3000)) + text[at:]
    return text


def lines_of(base: dict):
    text_lines = st.one_of(mutated_lines(base), st.just(_json_text(base)), json_values.map(_json_text),
                           awkward_text)
    encoded = text_lines.map(lambda t: t.encode("utf-8", errors="surrogatepass"))
    return st.lists(st.one_of(encoded, st.binary(max_size=200)), max_size=12)


@st.composite
def feed_files(draw, base: dict, allow_gzip: bool = True) -> tuple[bytes, str]:
    """(the file's bytes, how it is stored: plain, gzip or gzip cut short)."""
    lines = draw(lines_of(base))
    separators = draw(st.lists(st.sampled_from([b"\n", b"\r\n", b"\r"]), min_size=len(lines), max_size=len(lines)))
    data = b"".join(line + sep for line, sep in zip(lines, separators))
    if draw(st.booleans()) and data:
        data = data[:-1]   # no final terminator
    storage = draw(st.sampled_from(["plain", "gzip", "gzip_cut"] if allow_gzip else ["plain"]))
    if storage != "plain":
        data = gzip.compress(data)
        if storage == "gzip_cut":
            data = data[:draw(st.integers(0, len(data) - 1))]
    return data, storage


def expected_lines(data: bytes) -> int:
    """Lines of a whole plain stream, counted independently of raw_lines.LineSplitter."""
    parts = _TERMINATOR.split(data)
    return len(parts) - 1 if parts[-1] == b"" else len(parts)


def _storable(table: pa.Table) -> None:
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_string(column.type):
            for value in column.to_pylist():
                assert value is None or ("\x00" not in value and value.encode("utf-8") is not None), (name, value)
        elif pa.types.is_list(column.type) and pa.types.is_string(column.type.value_type):
            for values in column.to_pylist():
                assert all("\x00" not in v for v in values or ()), (name, values)


def check_file(file, dataset) -> tuple[list[int], list[int], list[str]]:
    """Good line numbers, quarantined line numbers and their reasons, as the tasks do it."""
    good, bad, reasons, warned = [], [], [], []
    for batch in line_batches(file.relative, line_blocks(file), size=5):
        done = finish(batch, dataset)
        good += done.good.column("source_line").to_pylist()
        bad += done.bad.column("line_number").to_pylist()
        reasons += done.bad.column("reason").to_pylist()
        warned += done.warnings.column("line_number").to_pylist()
        assert set(done.warnings.column("reason").to_pylist()) <= c.WARNING_REASONS
        for table in (done.good, done.bad, done.warnings):
            _storable(table)
    assert set(warned) <= set(good)   # a warning is about a line that was kept
    return good, bad, reasons


def _outside(opened: list[str], landing: Path) -> list[str]:
    root = os.path.realpath(landing)
    return [p for p in opened if not os.path.realpath(p).startswith(root + os.sep)
            and not os.path.realpath(p).startswith(_SYSTEM) and not p.endswith((".py", ".pyc", ".so"))]


def _write_traps(landing: Path, folder: Path, secret: Path) -> int:
    """Entries that must never be read: links out of the landing folder, bad names."""
    (folder / "ZZZ.jsonl").symlink_to(secret)
    (folder / "YYY.jsonl.gz").symlink_to(secret)
    (folder / "ams.jsonl").write_bytes(secret.read_bytes())
    (folder / "OUT").symlink_to(secret.parent, target_is_directory=True)
    return 4


@FUZZ
@given(feed=feed_files(PASSENGER))
def test_any_passenger_file_ends_as_rows_or_quarantine(feed):
    data, storage = feed
    with tempfile.TemporaryDirectory() as tmp:
        landing, secret = Path(tmp) / "landing", Path(tmp) / "stack.env"
        secret.write_bytes(b'{"scan_id": "PGPASSWORD=secret"}\n')
        folder = landing / "passengers" / DAY.isoformat()
        folder.mkdir(parents=True)
        name = "AMS.jsonl" + (".gz" if storage != "plain" else "")
        (folder / name).write_bytes(data)
        traps = _write_traps(landing, folder, secret)
        with Opened() as opened:
            listing = day_listing(landing, DAY)
            [file] = listing.files
            good, bad, reasons = check_file(file, PASSENGERS)
        assert len(listing.rejected) == traps
        assert not _outside(opened.paths, landing) and str(secret) not in opened.paths
        numbers = sorted(good + bad)
        assert numbers == list(range(1, len(numbers) + 1))   # each line once: a row or a quarantine row
        if storage != "gzip_cut":
            assert len(numbers) == expected_lines(gzip.decompress(data) if storage == "gzip" else data)
            assert not {c.TRUNCATED_GZIP, c.CORRUPT_GZIP} & set(reasons)
        assert c.CHECK_DISAGREEMENT not in reasons   # the two tiers agree on every line
        for reason in set(reasons) | ({"good"} if good else set()):
            event(reason)


@FUZZ
@given(feed=feed_files(WATCHLIST, allow_gzip=False))
def test_any_watchlist_file_ends_as_rows_or_quarantine(feed):
    data, _ = feed
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        (landing / "watchlist").mkdir(parents=True)
        (landing / "watchlist" / "watchlist.jsonl").write_bytes(data)
        with Opened() as opened:
            good, bad, reasons = check_file(watchlist_file(landing), WATCHLIST_DATASET)
        assert not _outside(opened.paths, landing)
        assert sorted(good + bad) == list(range(1, expected_lines(data) + 1))
        assert c.CHECK_DISAGREEMENT not in reasons


@FUZZ
@given(names=st.lists(st.text(min_size=1, max_size=12).filter(lambda n: "/" not in n and "\x00" not in n
                                                            and n not in (".", "..")), max_size=6, unique=True))
def test_any_entry_name_is_a_file_or_a_reported_entry(names):
    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        folder = landing / "passengers" / DAY.isoformat()
        folder.mkdir(parents=True)
        written = []
        for name in names:
            try:
                (folder / name).write_bytes(b"{}\n")
                written.append(name)
            except OSError:   # a name the file system refuses (too long in bytes)
                pass
        with Opened() as opened:
            listing = day_listing(landing, DAY)
        assert len(listing.files) + len(listing.rejected) == len(written)
        assert all(re.fullmatch(r"[A-Z]{3}\.jsonl(\.gz)?", f.path.name) for f in listing.files)
        assert all(e.reason == c.BAD_FILE_NAME and e.relative.encode("utf-8") for e in listing.rejected)
        assert not _outside(opened.paths, landing)
