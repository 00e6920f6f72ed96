"""The synthetic landing-directory generator: determinism, contract conformance, truth, and
the hard cases it promises (same-person photos, look-alikes, namesakes, dirty lines)."""
from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from watchlist_screening.config import REPO_ROOT
from watchlist_screening.generator import GeneratorConfig, generate
from watchlist_screening.generator.cli import main
from watchlist_screening.generator.dirty import KINDS
from watchlist_screening.generator.names import fold

DAYS = (date(2024, 5, 1), date(2024, 5, 2))
WATCHLIST = 1000
PASSENGERS = 800  # per airport and day
SIGHTINGS = 40
BAD_LINES = 3 * len(KINDS)
CONFUSABLE = ({"amber", "brown", "hazel"}, {"blue", "grey"})
NON_LATIN = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0600-\u06ff]")  # Greek, Cyrillic, Arabic


def _contract_dir() -> Path | None:
    for candidate in (REPO_ROOT.parent / "shared" / "contract",
                      os.environ.get("WATCHLIST_CONTRACT_DIR")):
        if candidate and (Path(candidate) / "passenger.schema.json").exists():
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def validators() -> dict[str, Draft202012Validator]:
    contract = _contract_dir()
    if contract is None:
        pytest.skip("data contract not found (set WATCHLIST_CONTRACT_DIR)")
    return {
        name: Draft202012Validator(json.loads((contract / f"{name}.schema.json").read_text()),
                                   format_checker=Draft202012Validator.FORMAT_CHECKER)
        for name in ("passenger", "watchlist")
    }


def _config(landing: Path, **overrides) -> GeneratorConfig:
    settings = dict(landing_dir=landing, dates=DAYS, watchlist_size=WATCHLIST,
                    airports=("LHR", "CDG"), passengers_per_airport=PASSENGERS,
                    sightings=SIGHTINGS, seed=11, bad_lines=BAD_LINES,
                    gzip_airports=frozenset({"CDG"}))
    settings.update(overrides)
    return GeneratorConfig(**settings)


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("landing")
    return root, generate(_config(root))


def _raw_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in _raw_lines(path)]


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


class Day:
    """One generated day read back: good records by scan_id, bad lines, truth."""

    def __init__(self, root: Path, day: date):
        self.bad = _jsonl(root / "truth" / f"{day}.bad_lines.jsonl")
        bad_at = {(b["file"], b["line"]) for b in self.bad}
        self.raw: dict[tuple[str, int], str] = {}
        self.good: dict[str, dict] = {}
        self.file_of: dict[str, str] = {}  # scan_id of a good record -> its file
        self.airport_of_file = {}
        for path in sorted((root / "passengers" / day.isoformat()).iterdir()):
            relative = path.relative_to(root).as_posix()
            self.airport_of_file[relative] = path.name[:3]
            for number, line in enumerate(_raw_lines(path), start=1):
                self.raw[relative, number] = line
                if (relative, number) not in bad_at:
                    record = json.loads(line)
                    assert record["scan_id"] not in self.good, "duplicate scan_id on a good line"
                    self.good[record["scan_id"]] = record
                    self.file_of[record["scan_id"]] = relative
        self.sightings = _jsonl(root / "truth" / f"{day}.jsonl")
        self.decoys = _jsonl(root / "truth" / f"{day}.decoys.jsonl")


@pytest.fixture(scope="module")
def days(landing) -> dict[date, Day]:
    root, _ = landing
    return {d: Day(root, d) for d in DAYS}


@pytest.fixture(scope="module")
def watchlist(landing) -> dict[str, dict]:
    root, _ = landing
    return {r["subject_id"]: r for r in _jsonl(root / "watchlist" / "watchlist.jsonl")}


@pytest.fixture(scope="module")
def persons(landing) -> dict[str, str]:
    root, _ = landing
    truth = _jsonl(root / "truth" / "watchlist_persons.jsonl")
    return {r["subject_id"]: r["person_id"] for r in truth}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- determinism -------------------------------------------------------------------------

def test_same_seed_gives_identical_bytes(tmp_path):
    small = dict(watchlist_size=300, passengers_per_airport=300, sightings=10, bad_lines=10)
    generate(_config(tmp_path / "a", **small))
    generate(_config(tmp_path / "b", **small))
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first.keys() == second.keys()
    assert "passengers/2024-05-01/CDG.jsonl.gz" in first
    assert first == second


def test_watchlist_does_not_depend_on_dates_but_passengers_do(tmp_path, landing, days):
    root, _ = landing
    generate(_config(tmp_path, dates=(date(2031, 1, 9),), passengers_per_airport=50, sightings=2,
                     bad_lines=0))
    for name in ("watchlist/watchlist.jsonl", "truth/watchlist_persons.jsonl"):
        assert (tmp_path / name).read_bytes() == (root / name).read_bytes()
    first, second = (days[d] for d in DAYS)
    documents = [{r["document_number"] for r in day.good.values()} for day in (first, second)]
    assert len(documents[0] & documents[1]) < 5
    names = [Counter((r["given_names"], r["surname"]) for r in day.good.values())
             for day in (first, second)]
    assert names[0] != names[1]


def test_another_seed_gives_another_watchlist(tmp_path, landing):
    root, _ = landing
    generate(_config(tmp_path, seed=12, dates=(), sightings=0, bad_lines=0))
    assert (tmp_path / "watchlist/watchlist.jsonl").read_bytes() != \
        (root / "watchlist/watchlist.jsonl").read_bytes()


# --- contract ----------------------------------------------------------------------------

def test_watchlist_lines_follow_the_contract(watchlist, validators):
    for record in watchlist.values():
        errors = list(validators["watchlist"].iter_errors(record))
        assert not errors, (record["subject_id"], errors[0].message)


def test_good_passenger_lines_follow_the_contract(days, validators, landing):
    _, summary = landing
    for day, data in days.items():
        assert len(data.good) == 2 * PASSENGERS
        for scan_id, record in data.good.items():
            errors = list(validators["passenger"].iter_errors(record))
            assert not errors, (scan_id, errors[0].message)
            scanned_at = datetime.fromisoformat(record["scanned_at"])
            assert scanned_at.utcoffset() == UTC.utcoffset(None)
            assert scanned_at.date() == day
            assert scan_id.startswith(f"{record['airport']}-{day:%Y%m%d}-")
            assert record["airport"] == data.airport_of_file[data.file_of[scan_id]]
        assert set(summary["days"][DAYS.index(day)]["files"]) == set(data.airport_of_file)


def test_embeddings_are_not_unit_length_and_never_repeat(watchlist, days):
    embeddings = [tuple(r["face_embedding"]) for r in watchlist.values()]
    embeddings += [tuple(r["face_embedding"]) for d in days.values() for r in d.good.values()]
    assert len(set(embeddings)) == len(embeddings)
    norms = np.linalg.norm(np.array(embeddings), axis=1)
    assert np.all(np.abs(norms - 1.0) > 0.05)


def test_gzip_airport_is_readable_and_complete(landing):
    root, summary = landing
    for day in summary["days"]:
        path = f"passengers/{day['date']}/CDG.jsonl.gz"
        with gzip.open(root / path, "rt", encoding="utf-8") as f:
            assert sum(1 for _ in f) == day["files"][path]
        assert not (root / path.removesuffix(".gz")).exists()


# --- dirty lines -------------------------------------------------------------------------

def test_bad_lines_are_exactly_the_recorded_ones(days, validators):
    for data in days.values():
        assert len(data.bad) == BAD_LINES
        assert Counter(b["kind"] for b in data.bad) == Counter({k: 3 for k in KINDS})
        assert {b["file"] for b in data.bad} == set(data.airport_of_file)
        for bad in data.bad:
            raw = data.raw[bad["file"], bad["line"]]
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                assert bad["kind"] in ("truncated_json", "not_json")
                continue
            assert bad["kind"] not in ("truncated_json", "not_json")
            valid = validators["passenger"].is_valid(record)
            if bad["kind"] == "duplicate_scan_id":
                assert valid
                original = data.good[record["scan_id"]]
                first_line = int(original["scan_id"].rsplit("-", 1)[1])
                assert first_line < bad["line"]
                assert data.airport_of_file[bad["file"]] == original["airport"]
            else:
                assert not valid, bad


def test_each_bad_kind_breaks_what_it_says(days, validators):
    data = days[DAYS[0]]
    for bad in data.bad:
        raw = data.raw[bad["file"], bad["line"]]
        kind = bad["kind"]
        if kind in ("truncated_json", "not_json"):
            continue
        record = json.loads(raw)
        if kind == "missing_field":
            assert set(validators["passenger"].schema["required"]) - record.keys()
        elif kind == "malformed_date":
            with pytest.raises(ValueError):
                date.fromisoformat(record["date_of_birth"])
        elif kind == "impossible_height":
            assert not 50 <= record["height_cm"] <= 260
        elif kind == "wrong_length_embedding":
            assert len(record["face_embedding"]) != 128
        elif kind == "non_numeric_embedding":
            assert any(not isinstance(x, int | float) for x in record["face_embedding"])
        elif kind == "unknown_eye_colour":
            assert record["eye_colour"] not in ("amber", "blue", "brown", "green", "grey",
                                                "hazel", "other")
        elif kind == "wrong_type":
            assert isinstance(record["height_cm"], str)


# --- truth -------------------------------------------------------------------------------

def test_truth_points_at_existing_records(days, watchlist, persons):
    subjects_of = defaultdict(set)
    for subject, person in persons.items():
        subjects_of[person].add(subject)
    assert set(persons) == set(watchlist)
    for data in days.values():
        assert len(data.sightings) == SIGHTINGS
        for truth in data.sightings:
            assert truth["scan_id"] in data.good
            assert set(truth["subject_ids"]) == subjects_of[truth["person_id"]]
        for decoy in data.decoys:
            assert decoy["scan_id"] in data.good
            assert decoy["subject_id"] in watchlist
        planted = [t["scan_id"] for t in data.sightings] + [d["scan_id"] for d in data.decoys]
        assert len(set(planted)) == len(planted)


def test_sightings_spread_over_airports_and_mix_identities(days, landing, watchlist):
    _, summary = landing
    for day_summary in summary["days"]:
        assert day_summary["sightings_by_mode"] == {"new_identity": 18, "alias": 10, "typo": 6,
                                                    "as_listed": 6}
    data = days[DAYS[0]]
    assert Counter(t["scan_id"][:3] for t in data.sightings) == {"LHR": 20, "CDG": 20}

    def spellings(record):
        names = [(record["given_names"], record["surname"])]
        names += [(a["given_names"], a["surname"]) for a in record.get("aliases", [])]
        return {(fold(g).lower(), fold(s).lower()) for g, s in names}

    on_alias = unlisted = 0
    for truth in data.sightings:
        scan = data.good[truth["scan_id"]]
        name = (fold(scan["given_names"]).lower(), fold(scan["surname"]).lower())
        listings = [watchlist[s] for s in truth["subject_ids"]]
        aliases = {n for r in listings for n in spellings(r)} - \
            {(fold(r["given_names"]).lower(), fold(r["surname"]).lower()) for r in listings}
        on_alias += name in aliases
        unlisted += all(name not in spellings(r) and name[::-1] not in spellings(r)
                        for r in listings)
    assert on_alias >= 5
    assert unlisted >= 0.4 * SIGHTINGS


def test_sightings_keep_sex_height_and_mostly_eye_colour(days, watchlist):
    height_gaps, eye_changes = [], 0
    pairs = [(data.good[t["scan_id"]], watchlist[s])
             for data in days.values() for t in data.sightings for s in t["subject_ids"]]
    for scan, listing in pairs:
        assert scan["sex"] == listing["sex"]
        height_gaps.append(scan["height_cm"] - listing["height_cm"])
        if scan["eye_colour"] != listing["eye_colour"]:
            eye_changes += 1
            assert any({scan["eye_colour"], listing["eye_colour"]} <= g for g in CONFUSABLE)
    assert abs(np.mean(height_gaps)) < 1.0
    assert 1.0 < np.std(height_gaps) < 2.6
    assert np.max(np.abs(height_gaps)) <= 8
    assert eye_changes <= 0.25 * len(pairs)


# --- faces -------------------------------------------------------------------------------

def test_same_person_photos_are_similar_and_strangers_are_not(days, watchlist):
    same = [_unit(days[d].good[t["scan_id"]]["face_embedding"])
            @ _unit(watchlist[s]["face_embedding"])
            for d in DAYS for t in days[d].sightings for s in t["subject_ids"]]
    assert 0.75 <= np.mean(same) <= 0.85
    assert 0.55 <= np.min(same) and np.max(same) <= 0.97

    planted = {t["scan_id"] for d in days.values() for t in d.sightings + d.decoys}
    travellers = _unit([r["face_embedding"] for s, r in days[DAYS[0]].good.items()
                        if s not in planted][:1000])
    listed = _unit([r["face_embedding"] for r in list(watchlist.values())[:1000]])
    unrelated = (travellers @ listed.T).ravel()
    assert abs(unrelated.mean()) < 0.01
    assert 0.075 < unrelated.std() < 0.10


def test_duplicate_listings_share_a_face_but_not_the_photo(watchlist, persons):
    listings = defaultdict(list)
    for subject, person in persons.items():
        listings[person].append(watchlist[subject])
    pairs = [group for group in listings.values() if len(group) == 2]
    assert len(pairs) == round(0.02 * WATCHLIST)
    for first, second in pairs:
        assert first["face_embedding"] != second["face_embedding"]
        assert _unit(first["face_embedding"]) @ _unit(second["face_embedding"]) > 0.55
        assert first["sex"] == second["sex"]
        assert abs(first["height_cm"] - second["height_cm"]) <= 8
        assert first["subject_id"].split("-")[0] != second["subject_id"].split("-")[0]


def test_look_alikes_resemble_but_differ(days, watchlist):
    alike = [(days[d].good[x["scan_id"]], watchlist[x["subject_id"]])
             for d in DAYS for x in days[d].decoys if x["kind"] == "look_alike"]
    assert len(alike) >= 2 * 3 * len(DAYS)
    cosines = [_unit(s["face_embedding"]) @ _unit(w["face_embedding"]) for s, w in alike]
    assert 0.55 <= np.mean(cosines) <= 0.75
    differing = 0
    for scan, listing in alike:
        # neither the listed name nor any listed alias: either would make it a namesake
        listed = {(listing["given_names"], listing["surname"])} | \
            {(a["given_names"], a["surname"]) for a in listing.get("aliases", [])}
        assert (scan["given_names"], scan["surname"]) not in listed
        differing += (scan["sex"] != listing["sex"]
                      or abs(scan["height_cm"] - listing["height_cm"]) > 8
                      or not any({scan["eye_colour"], listing["eye_colour"]} <= g
                                 for g in CONFUSABLE + ({scan["eye_colour"]},)))
    assert differing >= 0.5 * len(alike)


def test_namesakes_share_the_name_only(days, watchlist):
    namesakes = [(days[d].good[x["scan_id"]], watchlist[x["subject_id"]])
                 for d in DAYS for x in days[d].decoys if x["kind"] == "namesake"]
    assert len(namesakes) >= 2 * 3 * len(DAYS)
    latin = [(s, w) for s, w in namesakes if not NON_LATIN.search(w["surname"])]
    assert latin
    for scan, listing in latin:
        assert fold(scan["given_names"]) == fold(listing["given_names"])
        assert fold(scan["surname"]) == fold(listing["surname"])
    cosines = [_unit(s["face_embedding"]) @ _unit(w["face_embedding"]) for s, w in namesakes]
    assert max(cosines) < 0.5


# --- watchlist realism -------------------------------------------------------------------

def test_watchlist_names_and_optional_fields_vary(watchlist):
    records = list(watchlist.values())
    surnames = [r["surname"] for r in records]
    assert any(NON_LATIN.search(s) for s in surnames)
    assert any(fold(s) != s and not NON_LATIN.search(s) for s in surnames)
    assert any("'" in s for s in surnames) and any("-" in s for s in surnames)
    alias_counts = Counter(len(r.get("aliases", [])) for r in records)
    assert set(alias_counts) == {0, 1, 2, 3}
    assert any("date_of_birth" in a for r in records for a in r.get("aliases", []))
    for field in ("date_of_birth", "place_of_birth", "nationality", "offence", "caution",
                  "listed_on"):
        assert 0 < sum(field in r for r in records) < len(records), field


# --- command line, configuration, reruns -------------------------------------------------

def test_cli_writes_and_prints_summary(tmp_path, capsys):
    assert main(["--landing-dir", str(tmp_path), "--date", "2024-06-01", "--watchlist-size", "50",
                 "--airports", "LHR,AMS", "--passengers-per-airport", "40", "--sightings", "4",
                 "--seed", "5", "--bad-lines", "10", "--gzip-airports", "AMS"]) == 0
    summary = json.loads(capsys.readouterr().out)
    day = summary["days"][0]
    assert day["files"] == {"passengers/2024-06-01/LHR.jsonl": 45,
                            "passengers/2024-06-01/AMS.jsonl.gz": 45}
    assert day["sightings"] == 4 and day["bad_lines"] == 10
    assert summary["watchlist"]["entries"] == 50
    assert len(_raw_lines(tmp_path / "passengers/2024-06-01/AMS.jsonl.gz")) == 45


def test_module_entry_point(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "watchlist_screening.generator", "--landing-dir", str(tmp_path),
         "--date", "2024-06-01", "--watchlist-size", "20", "--passengers-per-airport", "10",
         "--sightings", "1", "--airports", "LHR"],
        capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["days"][0]["passengers"] == 10


@pytest.mark.parametrize("overrides, message", [
    (dict(airports=("LH1",)), "IATA"),
    (dict(gzip_airports=frozenset({"AMS"})), "gzip"),
    (dict(sightings=2 * PASSENGERS), "sightings per airport"),
    (dict(watchlist_size=0), "non-empty watchlist"),
    (dict(watchlist_duplicates_share=0.7), "duplicates share"),
])
def test_bad_requests_fail_before_writing(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        _config(tmp_path, **overrides)
    assert not any(tmp_path.iterdir())


def test_rerunning_a_day_replaces_its_files(tmp_path):
    small = dict(dates=(DAYS[0],), watchlist_size=30, passengers_per_airport=20, sightings=2,
                 bad_lines=0)
    generate(_config(tmp_path, **small))
    generate(_config(tmp_path, gzip_airports=frozenset(), airports=("LHR",), **small))
    folder = tmp_path / "passengers" / DAYS[0].isoformat()
    assert sorted(p.name for p in folder.iterdir()) == ["LHR.jsonl"]
