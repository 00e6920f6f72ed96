import json

from tests.unit.privacy_data import passenger, secret, wanted
from watchlist_screening.privacy import lookup
from watchlist_screening.privacy.encode import encode_landing


def _landing(tmp_path):
    src = tmp_path / "clear"
    (src / "watchlist").mkdir(parents=True)
    (src / "watchlist" / "watchlist.jsonl").write_text(json.dumps(wanted()) + "\n")
    day = src / "passengers" / "2026-11-01"
    day.mkdir(parents=True)
    (day / "LHR.jsonl").write_text("not json\n" + json.dumps(passenger(scan_id="S-9")) + "\n")
    return src


def test_scan_and_subject_ids_lead_back_to_the_clear_record(tmp_path):
    src = _landing(tmp_path)
    [scan] = lookup.find(src, scan_id="S-9")
    assert (scan["file"], scan["line"], scan["record"]["surname"]) == ("passengers/2026-11-01/LHR.jsonl", 2, "Kowalska")
    [entry] = lookup.find(src, subject_id="W-1")
    assert entry["record"]["offence"] == "fraud"
    assert lookup.find(src, scan_id="nope") == []


def test_verify_with_the_key_proves_the_encoded_line_came_from_the_record(tmp_path, capsys):
    src, key = _landing(tmp_path), secret()
    encode_landing(src, tmp_path / "enc", key)
    key_file = tmp_path / "k"
    key_file.write_bytes(key)
    assert lookup.main(["--landing-dir", str(src), "--scan-id", "S-9", "--date", "2026-11-01",
                        "--secret-file", str(key_file), "--encoded-dir", str(tmp_path / "enc")]) == 0
    assert json.loads(capsys.readouterr().out)["encoded_line_matches"] is True
    [entry] = lookup.find(src, subject_id="W-1")
    assert lookup.verify(entry, tmp_path / "enc", secret()) is False   # another key: not this line


def test_unknown_id_exits_1(tmp_path, capsys):
    assert lookup.main(["--landing-dir", str(_landing(tmp_path)), "--subject-id", "W-404"]) == 1
    assert "W-404" in capsys.readouterr().err


def test_both_commands_run_as_modules(tmp_path):
    import subprocess
    import sys

    src = _landing(tmp_path)
    key_file = tmp_path / "k.hex"
    subprocess.run([sys.executable, "-m", "watchlist_screening.privacy.keys", "--new", str(key_file)], check=True,
                   capture_output=True)
    encoded = subprocess.run([sys.executable, "-m", "watchlist_screening.privacy.encode", "--secret-file",
                              str(key_file), "--landing-dir", str(src), "--out-dir", str(tmp_path / "enc")],
                             capture_output=True, text=True)
    assert encoded.returncode == 0 and "LHR.jsonl:1: not_json" in encoded.stderr
    assert key_file.read_text().strip() not in encoded.stdout + encoded.stderr   # the key is never printed
    found = subprocess.run([sys.executable, "-m", "watchlist_screening.privacy.lookup", "--landing-dir", str(src),
                            "--scan-id", "S-9", "--secret-file", str(key_file), "--encoded-dir", str(tmp_path / "enc")],
                           capture_output=True, text=True)
    assert found.returncode == 0 and json.loads(found.stdout)["encoded_line_matches"] is True
