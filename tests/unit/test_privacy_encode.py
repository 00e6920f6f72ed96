import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.privacy_data import passenger, secret, validator, wanted
from watchlist_screening.privacy import dice, encode, keys
from watchlist_screening.privacy.encode import EncodingError, encode_landing, encode_passenger, encode_watchlist_entry

KEY = secret()
PASSENGER_SCHEMA = validator("encoded-passenger")
WATCHLIST_SCHEMA = validator("encoded-watchlist")
CLEAR_ONLY = ("given_names", "surname", "date_of_birth", "place_of_birth", "nationality", "face_embedding",
              "document_number", "issuing_country", "flight_number", "offence", "caution", "aliases")


def _errors(schema, line):
    return [e.message for e in schema.iter_errors(line)]


def test_passenger_line_validates_and_carries_no_clear_identity():
    line = encode_passenger(passenger(), KEY)
    assert _errors(PASSENGER_SCHEMA, line) == []
    assert not set(CLEAR_ONLY) & set(line)
    assert "Kowalska" not in json.dumps(line) and "1980" not in json.dumps(line)
    assert line["encoding"] == "watchlist-pprl/1"


def test_watchlist_line_validates_with_one_clk_per_name():
    line = encode_watchlist_entry(wanted(), KEY)
    assert _errors(WATCHLIST_SCHEMA, line) == []
    assert not set(CLEAR_ONLY) & set(line)
    assert len(line["name_clks"]) == len(line["surname_clks"]) == len(line["dob_clks"]) == 3
    assert line["dob_clks"][0] == line["dob_clk"] and line["dob_clks"][2] is None


def test_a_sighting_links_to_its_alias_not_to_another_name():
    scan = encode_passenger(passenger(given_names="Ana", surname="Kowalski"), KEY)
    entry = encode_watchlist_entry(wanted(), KEY)
    by_name = [dice.dice(scan["name_clk"], clk) for clk in entry["name_clks"]]
    assert by_name.index(max(by_name)) == 1 and by_name[1] > 0.8 > by_name[2]


def test_missing_optional_fields_become_null():
    line = encode_passenger(passenger(place_of_birth=None, nationality=None, direction=None, given_names="",
                                      surname=""), KEY)
    assert line["place_of_birth_clk"] is None and line["nationality_clk"] is None
    assert line["name_clk"] is None and line["surname_clk"] is None
    assert "direction" not in line
    assert _errors(PASSENGER_SCHEMA, line) == []
    entry = encode_watchlist_entry(wanted(date_of_birth=None, aliases=None, listed_on=None), KEY)
    assert entry["dob_clk"] is None and entry["dob_clks"] == [None] and len(entry["name_clks"]) == 1
    assert _errors(WATCHLIST_SCHEMA, entry) == []


@pytest.mark.parametrize("changes, reason", [({"height_cm": 900}, "out_of_range"),
                                             ({"face_embedding": [0.0] * 128}, "bad_embedding"),
                                             ({"date_of_birth": "1980-02-30"}, "bad_date"),
                                             ({"scan_id": None}, "missing_field")])
def test_bad_record_raises_with_reason_and_field(changes, reason):
    with pytest.raises(EncodingError) as error:
        encode_passenger(passenger(**changes), KEY)
    assert error.value.reason == reason


_text = st.one_of(st.none(), st.text(max_size=60))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(given_names=_text, surname=_text, place=_text, alias=st.one_of(st.none(), st.text(max_size=40)))
def test_any_unicode_names_or_missing_fields_encode_or_are_refused_cleanly(given_names, surname, place, alias):
    record = passenger(given_names=given_names, surname=surname, place_of_birth=place)
    try:
        line = encode_passenger(record, KEY)
    except EncodingError as error:
        assert error.reason in ("missing_field", "nul_character", "too_long", "wrong_type")
    else:
        assert _errors(PASSENGER_SCHEMA, line) == []
    entry = wanted(given_names=given_names, surname=surname,
                   aliases=None if alias is None else [{"given_names": alias, "surname": alias}])
    try:
        line = encode_watchlist_entry(entry, KEY)
    except EncodingError as error:
        assert error.reason in ("missing_field", "nul_character", "too_long", "wrong_type")
    else:
        assert _errors(WATCHLIST_SCHEMA, line) == []


def _landing(tmp_path):
    src = tmp_path / "clear"
    (src / "watchlist").mkdir(parents=True)
    (src / "watchlist" / "watchlist.jsonl").write_text(json.dumps(wanted()) + "\n", encoding="utf-8")
    day = src / "passengers" / "2026-11-01"
    day.mkdir(parents=True)
    lines = [json.dumps(passenger(scan_id="S-1")), '{"scan_id": "S-2", "airport": "LH',   # truncated
             json.dumps(passenger(scan_id="S-3", height_cm=20)),
             json.dumps(passenger(scan_id="S-4", scanned_at="2026-11-02T01:00:00Z")),       # wrong day
             json.dumps(passenger(scan_id="S-5"))]
    (day / "LHR.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with gzip.open(day / "CDG.jsonl.gz", "wt", encoding="utf-8") as out:
        out.write(json.dumps(passenger(scan_id="C-1", airport="CDG")) + "\n")
    (day / "notes.txt").write_text("not a feed")
    return src


def test_encode_landing_reports_bad_lines_with_file_and_line_and_keeps_going(tmp_path):
    src, out = _landing(tmp_path), tmp_path / "encoded"
    summary = encode_landing(src, out, KEY)
    assert (summary["lines"], summary["encoded"], summary["rejected"]) == (7, 4, 3)
    assert [(p["file"], p["line"], p["reason"]) for p in summary["rejections"]] == [
        ("passengers/2026-11-01/LHR.jsonl", 2, "not_json"), ("passengers/2026-11-01/LHR.jsonl", 3, "out_of_range"),
        ("passengers/2026-11-01/LHR.jsonl", 4, "wrong_day")]
    assert "height_cm" in summary["rejections"][1]["detail"]
    assert [e["file"] for e in summary["files_not_encoded"]] == ["passengers/2026-11-01/notes.txt"]
    lhr = [json.loads(l) for l in (out / "passengers/2026-11-01/LHR.jsonl").read_text().splitlines()]
    assert [l["scan_id"] for l in lhr] == ["S-1", "S-5"]
    assert all(_errors(PASSENGER_SCHEMA, l) == [] for l in lhr)
    with gzip.open(out / "passengers/2026-11-01/CDG.jsonl.gz", "rt") as cdg:
        assert json.loads(cdg.readline())["scan_id"] == "C-1"
    wl = json.loads((out / "watchlist/watchlist.jsonl").read_text())
    assert _errors(WATCHLIST_SCHEMA, wl) == []
    manifest = json.loads((out / "encoding.json").read_text())
    assert _errors(validator("encoding-manifest"), manifest) == []
    assert manifest["key_fingerprint"] == keys.fingerprint(KEY)
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]


def test_re_encoding_gives_the_same_bytes(tmp_path):
    src = _landing(tmp_path)
    encode_landing(src, tmp_path / "a", KEY)
    encode_landing(src, tmp_path / "b", KEY)
    for name in ("watchlist/watchlist.jsonl", "passengers/2026-11-01/LHR.jsonl", "passengers/2026-11-01/CDG.jsonl.gz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_an_out_dir_of_another_key_is_refused(tmp_path):
    src, out = _landing(tmp_path), tmp_path / "encoded"
    encode_landing(src, out, KEY, days=[])
    with pytest.raises(encode.EncodedLandingError, match="key_fingerprint"):
        encode_landing(src, out, secret(), days=[])


def test_cli_encodes_one_day_and_prints_the_summary(tmp_path, capsys):
    src, out = _landing(tmp_path), tmp_path / "encoded"
    key_file = tmp_path / "k.hex"
    key_file.write_text(secret().hex())
    assert encode.main(["--secret-file", str(key_file), "--landing-dir", str(src), "--out-dir", str(out),
                        "--date", "2026-11-01", "--no-watchlist"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["encoded"] == 3
    assert "passengers/2026-11-01/LHR.jsonl:3: out_of_range" in captured.err
    assert not (out / "watchlist").exists()


def test_cli_refuses_a_short_key(tmp_path, capsys):
    key_file = tmp_path / "k.hex"
    key_file.write_text("00" * 16)
    assert encode.main(["--secret-file", str(key_file), "--landing-dir", str(tmp_path),
                        "--out-dir", str(tmp_path / "o")]) == 2
    assert "k.hex" in capsys.readouterr().err


def test_generated_sightings_stay_close_to_their_listing_once_encoded(tmp_path):
    """On a generated day, a wanted person's scan is nearer, face and name, to their own
    encoded listing than to the other listings: what the pipeline links on survives."""
    import subprocess
    import sys

    import numpy as np

    src = tmp_path / "clear"
    subprocess.run([sys.executable, "-m", "watchlist_screening.generator", "--landing-dir", str(src),
                    "--date", "2026-11-01", "--watchlist-size", "300", "--passengers-per-airport", "300",
                    "--sightings", "20", "--bad-lines", "0", "--seed", "5"], check=True, capture_output=True)
    summary = encode_landing(src, tmp_path / "enc", KEY)
    assert summary["rejected"] == 0
    entries = {e["subject_id"]: e for e in map(json.loads, (tmp_path / "enc/watchlist/watchlist.jsonl").open())}
    scans = {s["scan_id"]: s for f in (tmp_path / "enc/passengers/2026-11-01").iterdir()
             for s in map(json.loads, f.open())}
    others = list(entries.values())
    face_wins = name_wins = total = 0
    for truth in map(json.loads, (src / "truth/2026-11-01.jsonl").open()):
        scan = scans[truth["scan_id"]]
        own = entries[truth["subject_ids"][0]]
        face = np.asarray([e["face_template"] for e in others]) @ np.asarray(scan["face_template"])
        own_face = float(np.asarray(own["face_template"]) @ np.asarray(scan["face_template"]))
        face_wins += own_face >= np.quantile(face, 0.95)
        if scan["name_clk"]:
            def best(entry):
                return max((dice.dice(scan["name_clk"], c) for c in entry["name_clks"] if c), default=0.0)
            name_wins += best(own) >= np.median([best(e) for e in others[:100]])
        total += 1
    assert total >= 15 and face_wins >= 0.9 * total and name_wins >= 0.6 * total


def test_a_parquet_day_encodes_like_its_jsonl_and_damage_is_reported(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datetime import date, datetime, timezone

    src = tmp_path / "clear"
    day = src / "passengers" / "2026-11-01"
    day.mkdir(parents=True)
    good = passenger(scan_id="P-1")
    bad = passenger(scan_id="P-2", height_cm=999.0)
    rows = []
    for record in (good, bad):
        row = dict(record)
        row["scanned_at"] = datetime(2026, 11, 1, 8, 30, tzinfo=timezone.utc)
        row["date_of_birth"] = date.fromisoformat(record["date_of_birth"])
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows), day / "LHR.parquet")
    (day / "FRA.parquet").write_bytes(b"PAR1 cut short")
    (day / "CDG.jsonl").write_text(json.dumps(dict(good, airport="CDG")) + "\n")
    (day / "CDG.parquet").write_bytes((day / "LHR.parquet").read_bytes())   # a second CDG file
    summary = encode_landing(src, tmp_path / "enc", KEY)
    [line] = map(json.loads, (tmp_path / "enc/passengers/2026-11-01/LHR.jsonl").read_text().splitlines())
    assert line == encode_passenger(good, KEY)
    reasons = {(p["file"], p["line"], p["reason"]) for p in summary["rejections"]}
    assert reasons == {("passengers/2026-11-01/LHR.parquet", 2, "out_of_range"),
                       ("passengers/2026-11-01/FRA.parquet", 0, "bad_parquet")}
    assert [(e["file"], e["reason"]) for e in summary["files_not_encoded"]] == [
        ("passengers/2026-11-01/CDG.parquet", "same_airport_twice")]
    assert len((tmp_path / "enc/passengers/2026-11-01/CDG.jsonl").read_text().splitlines()) == 1


def test_worker_processes_give_the_same_files_and_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(encode, "CHUNK_RECORDS", 2)   # several chunks per file
    src = _landing(tmp_path)
    one = encode_landing(src, tmp_path / "one", KEY)
    two = encode_landing(src, tmp_path / "two", KEY, workers=2)
    assert one["rejections"] == two["rejections"] and one["files_not_encoded"] == two["files_not_encoded"]
    for name in ("watchlist/watchlist.jsonl", "passengers/2026-11-01/LHR.jsonl", "passengers/2026-11-01/CDG.jsonl.gz"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_an_unexpected_failure_costs_one_line_not_the_file(tmp_path, monkeypatch):
    from watchlist_screening.privacy import records

    real = records.encode_passenger

    def flaky(record, secret):
        if record["scan_id"] == "S-5":
            raise RuntimeError("boom")
        return real(record, secret)

    monkeypatch.setattr(encode, "encode_passenger", flaky)
    summary = encode_landing(_landing(tmp_path), tmp_path / "enc", KEY)
    assert ("passengers/2026-11-01/LHR.jsonl", 5, "not_encodable") in {
        (p["file"], p["line"], p["reason"]) for p in summary["rejections"]}
    assert "RuntimeError: boom" in summary["rejections"][-1]["detail"]
    assert summary["encoded"] == 3
