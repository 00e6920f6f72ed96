"""Passenger scan records: the scan event (when, where, which flight) and the person on the
document, in contract field order. Ordinary travellers are drawn here, a chunk at a time."""
from __future__ import annotations

from datetime import date

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
from .world import DEFAULT_WORLD, FaceStructure, World

# Scanners read many documents from the machine-readable zone, which has no diacritics: how
# many is World.mrz_name_share; fields left empty, World.passenger_missing_*.
DUAL_NATIONAL_SHARE = 0.03  # travel on a passport other than their nationality's
HALF_CM_SHARE = 0.1  # scanners that report heights to the half centimetre
AIRLINES = np.array([
    "BA", "AF", "LH", "KL", "IB", "EI", "U2", "FR", "VY", "TK", "EK", "QR", "AA", "DL", "UA",
    "LX", "SK", "AY", "LO", "OS", "TP", "AZ", "SN", "MS", "RJ", "SV", "AI", "CA", "VN", "JL",
    "ET", "KQ",
], dtype=object)
# Share of the day's scans by hour (UTC): quiet at night, waves in the morning and evening.
_HOURLY = np.array([0.4, 0.25, 0.2, 0.2, 0.4, 1.2, 3.0, 4.5, 5.0, 4.6, 4.2, 4.0,
                    4.0, 4.1, 4.2, 4.5, 4.8, 5.0, 4.6, 4.0, 3.2, 2.4, 1.5, 0.8])
_DAY_SHARE = np.concatenate([[0.0], np.cumsum(_HOURLY) / _HOURLY.sum()])
_HOUR_START_S = np.arange(25) * 3600.0


def scan_id_prefix(airport: str, day: date) -> str:
    """Scan ids number the scan events of an airport-day (one line is one event):
    prefix + 7-digit line number."""
    return f"{airport}-{day:%Y%m%d}-"


def scan_id(airport: str, day: date, line: int) -> str:
    return f"{scan_id_prefix(airport, day)}{line:07d}"


def document_numbers(rng: np.random.Generator, n: int) -> list[str]:
    letters = rng.integers(65, 91, (n, 2)).tolist()
    digits = rng.integers(0, 10**7, n).tolist()
    return [f"{chr(a)}{chr(b)}{d:07d}" for (a, b), d in zip(letters, digits)]


def identity(document_number: str, issuing_country: str, given_names: str, surname: str,
             date_of_birth: str, place_of_birth: str | None, nationality: str, sex: str,
             height_cm: int | float, eye_colour: str, face_embedding: list[float]) -> dict:
    """The document-holder part of a scan record (the only place that fixes its layout)."""
    record = {"document_number": document_number, "issuing_country": issuing_country,
              "given_names": given_names, "surname": surname, "date_of_birth": date_of_birth,
              "place_of_birth": place_of_birth, "nationality": nationality, "sex": sex,
              "height_cm": height_cm, "eye_colour": eye_colour, "face_embedding": face_embedding}
    if place_of_birth is None:  # optional: left out, never null
        del record["place_of_birth"]
    if nationality is None:
        del record["nationality"]
    return record


def heights(rng: np.random.Generator, true_height: np.ndarray,
            world: World = DEFAULT_WORLD) -> list[int | float]:
    """Heights as scanners report them: most in whole centimetres, some in half ones."""
    step = np.where(rng.random(len(true_height)) < HALF_CM_SHARE, 0.5, 1.0)
    return height_values(measured_height(rng, true_height, step, world.height_noise_sd_cm))


def identities(rng: np.random.Generator, people: People, photo: np.ndarray,
               given: list[str] | None = None, surname: list[str] | None = None,
               world: World = DEFAULT_WORLD) -> list[dict]:
    """Scan records of `people` on their documents. `given`/`surname` are names the
    documents carry instead of the people's own (aliases, forgeries, namesakes); every record,
    ordinary or not, goes through here so none stands out by its form."""
    n = len(people)
    mrz = rng.random(n) < world.mrz_name_share
    if given is None:
        script = np.where(mrz, names.ASCII, names.LATIN)
        given = names.render_given(people.given, script).tolist()
        surname = names.render_surname(people.surname, people.form, script).tolist()
    else:
        given = [names.fold(g) if m else g for g, m in zip(given, mrz.tolist())]
        surname = [names.fold(s) if m else s for s, m in zip(surname, mrz.tolist())]
    issuer = people.nationality.copy()
    dual = rng.random(n) < DUAL_NATIONAL_SHARE
    issuer[dual] = rng.choice(names.DIASPORA, dual.sum())
    place = names.CITY_NAME[people.birthplace]
    place[rng.random(n) < world.passenger_missing_place_of_birth] = None
    nationality = names.COUNTRY_CODE[people.nationality]
    if world.passenger_missing_nationality:  # drawn only when asked: the default stream stays
        nationality[rng.random(n) < world.passenger_missing_nationality] = None
    return list(map(
        identity, document_numbers(rng, n), names.COUNTRY_CODE[issuer].tolist(), given, surname,
        np.datetime_as_string(people.dob).tolist(), place.tolist(),
        nationality.tolist(), SEXES[people.sex].tolist(),
        heights(rng, people.height, world),
        EYE_COLOURS[recorded_eye(rng, people.eye, world.eye_colour_confusion_rate)].tolist(),
        photo.tolist(),
    ))


def travellers(rng: np.random.Generator, n: int, day: date, world: World = DEFAULT_WORLD,
               structure: FaceStructure | None = None, noise_scale: float = 1.0) -> list[dict]:
    """n ordinary travellers, strangers to the watchlist, photographed by a scanner with
    `noise_scale`."""
    people = sample_people(rng, n, np.datetime64(day), adults=False)
    z = faces.identities(rng, n, structure, people.culture)
    return identities(rng, people, faces.photos(rng, z, sigma_range=world.photo_sigma,
                                                noise_scale=noise_scale), world=world)


def scan_events(rng: np.random.Generator, airport: str, day: date, lines: np.ndarray,
                total_lines: int) -> list[dict]:
    """The event part of the records on `lines` (1-based) of a file of `total_lines`.
    Times follow the daily traffic profile and increase with the line number, as a feed
    written in scan order would."""
    share = (lines - 1 + rng.random(len(lines))) / total_lines
    seconds = np.interp(share, _DAY_SHARE, _HOUR_START_S).astype(np.int64)
    at = np.datetime64(day, "s") + seconds.astype("timedelta64[s]")
    scanned_at = np.datetime_as_string(at, timezone="UTC").tolist()
    direction = np.where(rng.random(len(lines)) < 0.5, "arrival", "departure").tolist()
    airline = AIRLINES[rng.integers(0, len(AIRLINES), len(lines))].tolist()
    number = rng.integers(1, 3000, len(lines)).tolist()
    prefix = scan_id_prefix(airport, day)
    return [
        {"scan_id": f"{prefix}{line:07d}", "airport": airport, "scanned_at": t,
         "direction": d, "flight_number": f"{a}{k}"}
        for line, t, d, a, k in zip(lines.tolist(), scanned_at, direction, airline, number)
    ]

