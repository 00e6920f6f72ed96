"""The watchlist snapshot: wanted people, generated in fixed-size chunks.

Each chunk draws from its own random stream, so the list streams to disk in constant memory
and any entry can be looked up later (for sightings, namesakes, look-alikes) by regenerating
only its chunk. A chunk's draws depend on the seed, the list size, the duplicate share and
the world (world.py), never on the dates generated, so the snapshot is byte-identical across
runs.

Duplicate listings (the same person under two subject_ids, as when two agencies list them)
are paired inside a chunk: same identity vector, name, birth and eye colour, but their own
aliases, photo, height measurement and agency.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import faces, names
from .people import (
    EYE_COLOURS,
    SEXES,
    People,
    height_values,
    measured_height,
    recorded_eye,
    sample_people,
)
from .rng import stream
from .world import DEFAULT_WORLD, World, structure_of
from .writer import encode_lines, open_lines

CHUNK_SIZE = 4096
# Ages are drawn as of this day, not of the dates generated, to keep the snapshot fixed.
REFERENCE_DATE = np.datetime64("2025-01-01")
LISTED_ON_RANGE = (np.datetime64("1998-01-01"), np.datetime64("2024-12-31"))

# Agencies prefix subject_ids. The last one records heights in inches, which shows as
# half-centimetre steps after conversion.
AGENCIES = ("ICPO", "EPOL", "NCA", "BKA", "DCPJ", "GDC", "FBI")
_HEIGHT_STEP = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5])

MAX_ALIASES = 3
ALIAS_COUNT_SHARES = (0.30, 0.35, 0.20, 0.15)
# An alias is a whole new name, keeps the given names, or keeps the surname.
ALIAS_KIND_SHARES = (0.5, 0.3, 0.2)
# Share of entries that carry each optional field; the identity fields' shares are the
# world's (World.watchlist_missing_*), None here.
PRESENCE = {
    "date_of_birth": None, "place_of_birth": None, "nationality": None, "offence": 0.90,
    "caution": 0.55, "listed_on": 0.95, "empty_aliases": 0.5,  # `"aliases": []` vs no key
}


def _presence(world: World) -> dict[str, float]:
    return {**PRESENCE, "date_of_birth": 1.0 - world.watchlist_missing_date_of_birth,
            "place_of_birth": 1.0 - world.watchlist_missing_place_of_birth,
            "nationality": 1.0 - world.watchlist_missing_nationality}
OFFENCES = np.array([
    "murder", "attempted murder", "armed robbery", "drug trafficking", "human trafficking",
    "fraud", "money laundering", "terrorism offences", "kidnapping", "arms trafficking",
    "cybercrime", "sexual assault", "participation in organised crime", "escape from custody",
    "tax evasion", "war crimes",
], dtype=object)
CAUTIONS = np.array([
    "may be armed", "violent", "do not approach", "escape risk", "uses multiple identities",
    "known to carry forged documents", "self-harm risk",
], dtype=object)


@dataclass
class Chunk:
    start: int  # global index of the first entry
    people: People  # the person each entry lists (duplicates repeat their original's row)
    person: np.ndarray  # global index of the person's first listing: the person id
    z: np.ndarray
    photo: np.ndarray
    agency: np.ndarray
    native: np.ndarray  # name listed in native script
    height: np.ndarray  # as listed
    eye: np.ndarray  # as listed
    alias_count: np.ndarray
    alias_given: np.ndarray  # (n, MAX_ALIASES, 2)
    alias_surname: np.ndarray  # (n, MAX_ALIASES, 2)
    alias_dob: np.ndarray  # (n, MAX_ALIASES) datetime64[D], NaT = not listed
    present: dict[str, np.ndarray]
    offence: np.ndarray
    caution: np.ndarray
    listed_on: np.ndarray

    def subject_ids(self, rows) -> list[str]:
        rows = np.atleast_1d(rows)
        return [f"{AGENCIES[a]}-{self.start + r + 1:07d}"
                for a, r in zip(self.agency[rows].tolist(), rows.tolist())]

    def person_ids(self, rows) -> list[str]:
        return [f"P{p + 1:07d}" for p in np.atleast_1d(self.person[rows]).tolist()]


def chunk_count(size: int) -> int:
    return -(-size // CHUNK_SIZE)


def _aliases(rng: np.random.Generator, people: People, native: np.ndarray, world: World):
    n = len(people)
    count = rng.choice(MAX_ALIASES + 1, n, p=ALIAS_COUNT_SHARES)
    culture = np.repeat(people.culture, MAX_ALIASES)
    form = np.repeat(people.form, MAX_ALIASES)
    given, surname = names.sample_names(rng, culture, form)
    given, surname = given.reshape(n, MAX_ALIASES, 2), surname.reshape(n, MAX_ALIASES, 2)
    kind = rng.choice(3, (n, MAX_ALIASES), p=ALIAS_KIND_SHARES)
    transliterated = native & (rng.random(n) < world.transliteration_alias_share)
    count[transliterated] = np.maximum(count[transliterated], 1)
    own_given = (kind == 1) | (transliterated[:, None] & (np.arange(MAX_ALIASES) == 0))
    own_surname = (kind == 2) | (transliterated[:, None] & (np.arange(MAX_ALIASES) == 0))
    given = np.where(own_given[..., None], people.given[:, None, :], given)
    surname = np.where(own_surname[..., None], people.surname[:, None, :], surname)
    # An alias birth date, where listed, is the real one moved by 1-3 years and up to 40 days.
    years = rng.integers(1, 4, (n, MAX_ALIASES)) * rng.choice([-1, 1], (n, MAX_ALIASES))
    days = years * 365 + rng.integers(-40, 41, (n, MAX_ALIASES))
    dob = people.dob[:, None] + days.astype("timedelta64[D]")
    dob[rng.random((n, MAX_ALIASES)) >= world.alias_dob_share] = np.datetime64("NaT")
    return count, given, surname, dob


def generate_chunk(seed: int, size: int, duplicate_share: float, index: int,
                   world: World = DEFAULT_WORLD) -> Chunk:
    start = index * CHUNK_SIZE
    n = min(CHUNK_SIZE, size - start)
    rng = stream(seed, "watchlist", index)
    people = sample_people(rng, n, REFERENCE_DATE, adults=True)
    z = faces.identities(rng, n, structure_of(world, seed), people.culture)
    duplicates = round(duplicate_share * n)
    rows = rng.permutation(n)[: 2 * duplicates]
    copy, original = rows[:duplicates], rows[duplicates:]
    people.copy_rows(copy, original)
    z[copy] = z[original]
    person = start + np.arange(n)
    person[copy] = start + original
    agency = rng.integers(0, len(AGENCIES), n)
    agency[copy] = (agency[original] + rng.integers(1, len(AGENCIES), duplicates)) % len(AGENCIES)
    native = names.HAS_NATIVE_SCRIPT[people.culture] & (rng.random(n) < world.native_listing_share)
    alias_count, alias_given, alias_surname, alias_dob = _aliases(rng, people, native, world)
    present = {field: rng.random(n) < share for field, share in _presence(world).items()}
    listed_on = LISTED_ON_RANGE[0] + rng.integers(
        0, (LISTED_ON_RANGE[1] - LISTED_ON_RANGE[0]).astype(int) + 1, n).astype("timedelta64[D]")
    return Chunk(
        start=start, people=people, person=person, z=z, agency=agency, native=native,
        height=measured_height(rng, people.height, _HEIGHT_STEP[agency], world.height_noise_sd_cm),
        eye=recorded_eye(rng, people.eye, world.eye_colour_confusion_rate),
        alias_count=alias_count, alias_given=alias_given, alias_surname=alias_surname,
        alias_dob=alias_dob, present=present,
        offence=rng.integers(0, len(OFFENCES), n), caution=rng.integers(0, len(CAUTIONS), n),
        # Nobody is listed before turning 16.
        listed_on=np.maximum(listed_on, people.dob + np.timedelta64(16 * 366, "D")),
        photo=faces.photos(rng, z, sigma_range=world.photo_sigma),
    )


def records(chunk: Chunk, rows: np.ndarray) -> list[dict]:
    """The watchlist lines of `rows`, in contract field order, optional fields left out
    where the chunk says they are missing."""
    p = chunk.people.take(rows)
    script = np.where(chunk.native[rows], names.NATIVE, names.LATIN)
    given = names.render_given(p.given, script).tolist()
    surname = names.render_surname(p.surname, p.form, script).tolist()
    k = len(rows) * MAX_ALIASES
    latin = np.full(k, names.LATIN)
    alias_given = names.render_given(chunk.alias_given[rows].reshape(k, 2), latin)
    alias_surname = names.render_surname(chunk.alias_surname[rows].reshape(k, 2),
                                         np.repeat(p.form, MAX_ALIASES), latin)
    alias_dob = np.datetime_as_string(chunk.alias_dob[rows].reshape(k)).tolist()
    dob = np.datetime_as_string(p.dob).tolist()
    listed_on = np.datetime_as_string(chunk.listed_on[rows]).tolist()
    place = names.CITY_NAME[p.birthplace].tolist()
    nationality = names.COUNTRY_CODE[p.nationality].tolist()
    sex = SEXES[p.sex].tolist()
    height = height_values(chunk.height[rows])
    eye = EYE_COLOURS[chunk.eye[rows]].tolist()
    photo = chunk.photo[rows].tolist()
    offence = OFFENCES[chunk.offence[rows]].tolist()
    caution = CAUTIONS[chunk.caution[rows]].tolist()
    present = {field: flags[rows].tolist() for field, flags in chunk.present.items()}
    out = []
    for i, (subject_id, count) in enumerate(zip(chunk.subject_ids(rows),
                                                chunk.alias_count[rows].tolist())):
        record = {"subject_id": subject_id, "given_names": given[i], "surname": surname[i]}
        if count or present["empty_aliases"][i]:
            aliases = []
            for j in range(i * MAX_ALIASES, i * MAX_ALIASES + count):
                alias = {"given_names": alias_given[j], "surname": alias_surname[j]}
                if alias_dob[j] != "NaT":
                    alias["date_of_birth"] = alias_dob[j]
                aliases.append(alias)
            record["aliases"] = aliases
        if present["date_of_birth"][i]:
            record["date_of_birth"] = dob[i]
        if present["place_of_birth"][i]:
            record["place_of_birth"] = place[i]
        if present["nationality"][i]:
            record["nationality"] = nationality[i]
        record.update(sex=sex[i], height_cm=height[i], eye_colour=eye[i], face_embedding=photo[i])
        if present["offence"][i]:
            record["offence"] = offence[i]
        if present["caution"][i]:
            record["caution"] = caution[i]
        if present["listed_on"][i]:
            record["listed_on"] = listed_on[i]
        out.append(record)
    return out


@dataclass(frozen=True)
class Wanted:
    """One watchlist entry, with what the generator knows about the person behind it."""
    subject_id: str
    subject_ids: tuple[str, ...]  # every listing of this person
    person_id: str
    record: dict  # the line as written
    person: People  # one row: real name, birth, sex, true height and eye colour
    z: np.ndarray
    photo: np.ndarray  # as written


def find(seed: int, size: int, duplicate_share: float, indices,
         world: World = DEFAULT_WORLD) -> dict[int, Wanted]:
    """Look up watchlist entries by global index, regenerating only the chunks they are in."""
    found: dict[int, Wanted] = {}
    wanted = np.unique(np.asarray(indices, dtype=np.int64))
    for index in np.unique(wanted // CHUNK_SIZE).tolist():
        chunk = generate_chunk(seed, size, duplicate_share, index, world)
        rows = wanted[wanted // CHUNK_SIZE == index] - chunk.start
        for row, record in zip(rows.tolist(), records(chunk, rows)):
            listings = np.flatnonzero(chunk.person == chunk.person[row])
            found[chunk.start + row] = Wanted(
                subject_id=record["subject_id"], subject_ids=tuple(chunk.subject_ids(listings)),
                person_id=chunk.person_ids(row)[0], record=record,
                person=chunk.people.take([row]),
                # Copies: a view would keep the whole chunk's arrays alive.
                z=chunk.z[row].copy(), photo=chunk.photo[row].copy())
    return found


def write(landing_dir: Path, seed: int, size: int, duplicate_share: float,
          world: World = DEFAULT_WORLD) -> dict:
    """Write watchlist/watchlist.jsonl and truth/watchlist_persons.jsonl; return counts."""
    persons = duplicates = 0
    with open_lines(landing_dir / "watchlist" / "watchlist.jsonl") as watchlist, \
            open_lines(landing_dir / "truth" / "watchlist_persons.jsonl") as truth:
        for index in range(chunk_count(size)):
            chunk = generate_chunk(seed, size, duplicate_share, index, world)
            rows = np.arange(len(chunk.person))
            watchlist.write(encode_lines(records(chunk, rows)))
            truth.write(encode_lines(
                {"subject_id": s, "person_id": p}
                for s, p in zip(chunk.subject_ids(rows), chunk.person_ids(rows))))
            first_listing = chunk.person == chunk.start + rows
            persons += int(first_listing.sum())
            duplicates += int((~first_listing).sum())
    return {"file": "watchlist/watchlist.jsonl", "entries": size, "persons": persons,
            "duplicate_listings": duplicates}
