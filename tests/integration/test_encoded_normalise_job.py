"""The real Spark job (spark-submit) in the encoded mode into the real Postgres: a
generated day encoded by the real encoder loads with every line accounted for, bad
encoded lines are quarantined with file, line, reason and their clear values withheld,
the warehouse holds no clear identity, and a day under another key than its watchlist
fails naming both keys."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_spark_job_into_postgres import rows, run_job
from watchlist_screening.normalise import encoded_lines as e

pytestmark = pytest.mark.integration

DAY = "2030-03-05"
SECRET = bytes(range(1, 33))


@pytest.fixture()
def encoded(tmp_path) -> tuple[Path, Path]:
    from watchlist_screening.generator.cli import main as generate
    from watchlist_screening.privacy.encode import encode_landing

    clear = tmp_path / "clear"
    assert generate(["--landing-dir", str(clear), "--date", DAY, "--watchlist-size", "300", "--airports", "LHR,CDG",
                     "--passengers-per-airport", "200", "--sightings", "5", "--seed", "4",
                     "--gzip-airports", "CDG"]) == 0
    out = tmp_path / "encoded"
    summary = encode_landing(clear, out, SECRET)
    assert summary["encoded"] == 300 + 400 and not summary["rejected"]
    lhr = out / "passengers" / DAY / "LHR.jsonl"
    first = json.loads(lhr.read_text().splitlines()[0])
    bad = [json.dumps({**first, "scan_id": "LHR-leak", "surname": "Qwertyleak"}),   # the edge let a name through
           '{"given_names": "Zyxwleak", "scan_id": ',                              # cut short, naming a field
           json.dumps({**first, "scan_id": "LHR-badclk", "name_clk": "AAAA"}),
           json.dumps(first)]                                                        # its scan_id again
    with lhr.open("a") as f:
        f.write("\n".join(bad) + "\n")
    return clear, out


def test_an_encoded_day_loads_quarantines_and_holds_no_clear_identity(encoded, warehouse_dsn):
    clear, landing = encoded
    code, summary, err = run_job(landing, warehouse_dsn, day=DAY, WATCHLIST_PRIVACY_MODE="encoded")
    assert code == 0, err[-3000:]
    assert summary["passengers"] == 400, (summary, err[-3000:])
    assert summary["quarantined_by_reason"] == {e.CLEAR_FIELD_PRESENT: 1, "not_json": 1, e.BAD_CLK: 1,
                                                "duplicate_scan_id": 1}
    quarantine = rows(warehouse_dsn, "SELECT source_file, line_number, raw_text, reason, detail FROM "
                      "warehouse.quarantine WHERE scan_day = %s ORDER BY line_number", DAY)
    assert [(q[0], q[1], q[3]) for q in quarantine] == [
        (f"passengers/{DAY}/LHR.jsonl", 201, e.CLEAR_FIELD_PRESENT), (f"passengers/{DAY}/LHR.jsonl", 202, "not_json"),
        (f"passengers/{DAY}/LHR.jsonl", 203, e.BAD_CLK), (f"passengers/{DAY}/LHR.jsonl", 204, "duplicate_scan_id")]
    assert json.loads(quarantine[0][2])["scan_id"] == "LHR-leak" and "field 'name_clk'" in quarantine[2][4]
    text = " ".join(str(q) for q in quarantine)
    assert "Qwertyleak" not in text and "Zyxwleak" not in text

    clear_columns = rows(warehouse_dsn, """
        SELECT count(*) FILTER (WHERE given_names IS NOT NULL OR surname IS NOT NULL OR full_name_norm IS NOT NULL
                                 OR date_of_birth IS NOT NULL OR place_of_birth IS NOT NULL OR nationality IS NOT NULL
                                 OR document_number IS NOT NULL OR flight_number IS NOT NULL),
               count(*) FILTER (WHERE name_clk IS NOT NULL AND dob_clk IS NOT NULL)
        FROM warehouse.passengers WHERE scan_day = %s""", DAY)[0]
    assert clear_columns == (0, 400)
    version = summary["watchlist_version"]
    listed = rows(warehouse_dsn, """
        SELECT count(*) FILTER (WHERE given_names IS NOT NULL OR surname IS NOT NULL OR date_of_birth IS NOT NULL
                                 OR cardinality(all_names_norm) > 0 OR cardinality(all_dobs) > 0
                                 OR offence IS NOT NULL OR aliases <> '[]'::jsonb),
               count(*) FILTER (WHERE cardinality(name_clks) >= 1 AND cardinality(name_clks) = cardinality(surname_clks))
        FROM warehouse.watchlist WHERE version_id = %s""", version)[0]
    assert listed == (0, 300)
    fingerprint = json.loads((landing / "encoding.json").read_text())["key_fingerprint"]
    assert rows(warehouse_dsn, "SELECT privacy_mode, key_fingerprint FROM warehouse.watchlist_versions "
                "WHERE version_id = %s", version) == [("encoded", fingerprint)]
    assert rows(warehouse_dsn, "SELECT privacy_mode, key_fingerprint FROM warehouse.day_runs WHERE scan_day = %s",
                DAY) == [("encoded", fingerprint)]

    # a re-run replaces the day with the same rows
    before = rows(warehouse_dsn, "SELECT scan_id, name_clk FROM warehouse.passengers WHERE scan_day = %s ORDER BY 1", DAY)
    code, again, err = run_job(landing, warehouse_dsn, day=DAY, WATCHLIST_PRIVACY_MODE="encoded")
    assert code == 0 and again == summary, err[-3000:]
    assert rows(warehouse_dsn, "SELECT scan_id, name_clk FROM warehouse.passengers WHERE scan_day = %s ORDER BY 1",
                DAY) == before

    # linking the encoded day as a clear one is refused, saying how to fix it
    import dataclasses
    import datetime as dt

    from watchlist_screening.errors import PermanentError
    from watchlist_screening.linkage.screen_day import check_mode
    from watchlist_screening.pipeline_settings import Settings

    clear_run = dataclasses.replace(Settings.from_env(), privacy_mode="clear")
    with pytest.raises(PermanentError, match="normalised in encoded mode, but this run links in clear mode"):
        check_mode(warehouse_dsn, dt.date.fromisoformat(DAY), version, clear_run)
    assert check_mode(warehouse_dsn, dt.date.fromisoformat(DAY), version,
                      dataclasses.replace(clear_run, privacy_mode="encoded")) == "encoded"

    # the same day re-encoded by the airports under another secret: refused, naming both keys
    manifest = json.loads((landing / "encoding.json").read_text())
    (landing / "encoding.json").write_text(json.dumps({**manifest, "key_fingerprint": "00000000000000ff"}))
    code, _, err = run_job(landing, warehouse_dsn, day=DAY, WATCHLIST_PRIVACY_MODE="encoded")
    assert code == 1
    assert "encoding keys differ" in err and fingerprint in err and "00000000000000ff" in err
    assert rows(warehouse_dsn, "SELECT count(*) FROM warehouse.passengers WHERE scan_day = %s", DAY) == [(400,)]


def test_an_encoded_landing_without_its_manifest_fails_naming_it(encoded, warehouse_dsn):
    _, landing = encoded
    (landing / "encoding.json").unlink()
    code, _, err = run_job(landing, warehouse_dsn, day="2030-03-06", WATCHLIST_PRIVACY_MODE="encoded")
    assert code == 1 and "encoding.json: missing" in err
