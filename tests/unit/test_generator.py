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
from watchlist_screening.pipeline_settings import REPO_ROOT
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


# --- worlds: every distributional assumption is a knob -----------------------------------

from watchlist_screening.generator import watchlist as watchlist_module  # noqa: E402
from watchlist_screening.generator.world import WORLDS, World, parse_knob, world_from  # noqa: E402

KNOB_DAY = date(2024, 5, 1)


def _world_day(root: Path, world: World, **overrides) -> tuple[Day, dict[str, dict]]:
    settings = dict(dates=(KNOB_DAY,), watchlist_size=400, passengers_per_airport=300,
                    sightings=120, bad_lines=0, gzip_airports=frozenset(), world=world)
    settings.update(overrides)
    generate(_config(root, **settings))
    listed = {r["subject_id"]: r for r in _jsonl(root / "watchlist" / "watchlist.jsonl")}
    return Day(root, KNOB_DAY), listed


def _dob_gaps_days(day: Day, listed: dict[str, dict]) -> np.ndarray:
    gaps = []
    for s in day.sightings:
        record = listed[s["subject_ids"][0]]
        if "date_of_birth" in record:
            seen = date.fromisoformat(day.good[s["scan_id"]]["date_of_birth"])
            gaps.append(abs((seen - date.fromisoformat(record["date_of_birth"])).days))
    return np.array(gaps)


def test_default_world_is_the_historical_one():
    assert World().changed() == {}
    assert WORLDS["default"] == World()
    assert set(WORLDS["all_shifted"].changed()) >= {
        k for name, w in WORLDS.items() if name != "all_shifted" for k in w.changed()}
    assert len(WORLDS) >= 10


def test_forged_dates_anywhere_reach_beyond_ten_years(tmp_path):
    only_new = (1.0, 0.0, 0.0, 0.0)
    near, listed = _world_day(tmp_path / "near", World(mode_shares=only_new))
    gaps = _dob_gaps_days(near, listed)
    assert len(gaps) > 80 and gaps.max() <= 6 * 365
    anywhere, listed = _world_day(tmp_path / "anywhere",
                                  World(mode_shares=only_new, forged_dob="anywhere"))
    gaps = _dob_gaps_days(anywhere, listed)
    assert (gaps > 10 * 365).mean() > 0.3


def test_population_structure_raises_cosine_of_strangers_in_a_group():
    def stranger_cosines(world: World) -> tuple[float, float]:
        chunk = watchlist_module.generate_chunk(3, 600, 0.0, 0, world)
        photos = _unit(chunk.photo)
        cos = photos @ photos.T
        group = chunk.people.culture % 4
        same = group[:, None] == group[None, :]
        off = ~np.eye(len(cos), dtype=bool)
        return float(cos[same & off].mean()), float(cos[~same].mean())

    same, other = stranger_cosines(World())
    assert abs(same) < 0.02 and abs(other) < 0.02
    same, other = stranger_cosines(World(face_groups=4, face_group_share=0.35))
    assert 0.2 < same < 0.35 and abs(other) < 0.1


def test_worse_scanner_lowers_same_person_cosines_at_its_airport(tmp_path):
    day, listed = _world_day(tmp_path, World(airport_noise=(("CDG", 2.0),)), sightings=200)
    cosines: dict[str, list[float]] = defaultdict(list)
    for s in day.sightings:
        record = day.good[s["scan_id"]]
        cosines[record["airport"]].append(float(
            _unit(record["face_embedding"]) @ _unit(listed[s["subject_ids"][0]]["face_embedding"])))
    assert np.mean(cosines["LHR"]) > 0.75
    assert np.mean(cosines["CDG"]) < np.mean(cosines["LHR"]) - 0.15


def test_look_alikes_can_share_the_physique(tmp_path):
    day, listed = _world_day(tmp_path, World(look_alike_differs_share=0.0, look_alike_rate=0.02,
                                             eye_colour_confusion_rate=0.0))
    look_alikes = [d for d in day.decoys if d["kind"] == "look_alike"]
    assert len(look_alikes) >= 10
    for d in look_alikes:
        record, listing = day.good[d["scan_id"]], listed[d["subject_id"]]
        assert record["sex"] == listing["sex"] and record["eye_colour"] == listing["eye_colour"]
        assert abs(record["height_cm"] - listing["height_cm"]) < 8


def test_record_noise_knobs(tmp_path):
    day, listed = _world_day(tmp_path, World(height_noise_sd_cm=0.0, eye_colour_confusion_rate=0.0,
                                             mode_shares=(0.0, 0.0, 0.0, 1.0)))
    for s in day.sightings:
        record, listing = day.good[s["scan_id"]], listed[s["subject_ids"][0]]
        assert record["eye_colour"] == listing["eye_colour"]
        assert abs(record["height_cm"] - listing["height_cm"]) <= 1.0  # rounding only
        assert record["surname"] != "" and "date_of_birth" in record
    noisy, listed = _world_day(tmp_path / "noisy", World(height_noise_sd_cm=4.0,
                                                         eye_colour_confusion_rate=0.5))
    gaps = [abs(noisy.good[s["scan_id"]]["height_cm"] - listed[s["subject_ids"][0]]["height_cm"])
            for s in noisy.sightings]
    assert np.mean(gaps) > 3.0


def test_missing_fields_and_identity_modes_follow_the_knobs(tmp_path):
    world = World(watchlist_missing_date_of_birth=1.0, watchlist_missing_nationality=0.0,
                  passenger_missing_nationality=1.0, mode_shares=(0.0, 0.0, 0.0, 1.0))
    summary = generate(_config(tmp_path, dates=(KNOB_DAY,), watchlist_size=300,
                               passengers_per_airport=200, sightings=30, bad_lines=0, world=world))
    assert summary["days"][0]["sightings_by_mode"] == {"as_listed": 30}
    assert summary["world"]["passenger_missing_nationality"] == 1.0
    listed = _jsonl(tmp_path / "watchlist" / "watchlist.jsonl")
    assert not any("date_of_birth" in r for r in listed)
    assert all("nationality" in r for r in listed)
    day = Day(tmp_path, KNOB_DAY)
    assert not any("nationality" in r for r in day.good.values())


def test_cli_world_and_knobs(tmp_path, capsys):
    assert main(["--landing-dir", str(tmp_path), "--date", "2024-05-01", "--watchlist-size", "50",
                 "--passengers-per-airport", "40", "--sightings", "4", "--world", "noisy_scanner",
                 "--knob", "forged_dob=anywhere", "--knob", "photo_sigma=0.2,0.8"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["world"] == {"photo_sigma": [0.2, 0.8], "airport_noise": [["CDG", 1.8]],
                                "forged_dob": "anywhere"}
    assert parse_knob("airport_noise=cdg:1.5") == ("airport_noise", (("CDG", 1.5),))
    assert world_from("default", ["face-groups=3"]).face_groups == 3
    for bad in (["--knob", "no_such_knob=1"], ["--knob", "mode_shares=0.5,0.5,0.5,0.5"],
                ["--world", "nowhere"]):
        with pytest.raises(SystemExit):
            main(["--landing-dir", str(tmp_path), "--date", "2024-05-01", *bad])
    with pytest.raises(ValueError, match="noisy scanners"):
        _config(tmp_path, airports=("LHR", "JFK"), world=WORLDS["noisy_scanner"])


def test_progress_names_each_part_with_its_count_and_time(tmp_path):
    heard: list[str] = []
    generate(GeneratorConfig(landing_dir=tmp_path, dates=(date(2030, 6, 1),), watchlist_size=300,
                             airports=("LHR", "CDG"), passengers_per_airport=150, sightings=3, seed=4),
             progress=heard.append)
    assert heard[0] == "watchlist (300 entries) ..."
    assert re.fullmatch(r"watchlist \(300 entries\): 300 records in [\d.]+ s \([\d,]+/s; [\d.]+ s so far\)", heard[1])
    assert heard[2] == "2030-06-01 (2 airports × 150 passengers) ..."
    assert heard[3].startswith("2030-06-01 (2 airports × 150 passengers): 300 records in ")


def test_the_command_line_shows_progress_on_stderr_unless_quiet(tmp_path):
    def run(*extra):
        return subprocess.run([sys.executable, "-m", "watchlist_screening.generator", "--landing-dir", str(tmp_path),
                               "--date", "2030-06-01", "--watchlist-size", "50", "--passengers-per-airport", "20",
                               "--sightings", "1", *extra], capture_output=True, text=True, check=True)

    loud, quiet = run(), run("--quiet")
    assert "[generate] watchlist (50 entries): 50 records in" in loud.stderr
    assert quiet.stderr == "" and json.loads(quiet.stdout)["watchlist"]["entries"] == 50
