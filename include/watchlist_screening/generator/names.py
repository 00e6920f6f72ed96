"""Name, birthplace and country tables compiled from `cultures`, for vectorised sampling.

A name is held as integer indices into these tables and only turned into text when a line is
written, so millions of people can be drawn with numpy. Each name has three spellings
("scripts"): as written in the Latin alphabet with diacritics, folded to plain ASCII (how a
machine-readable passport zone reads it), and in its native script (Cyrillic, Greek or
Arabic where the culture has one, else the Latin spelling).
"""
from __future__ import annotations

import unicodedata

import numpy as np

from .cultures import CULTURES, DIASPORA_COUNTRIES

LATIN, ASCII, NATIVE = 0, 1, 2
FEMALE_FORM, MALE_FORM = 0, 1

# Letters NFKD does not decompose into base letter + accent.
_UNDECOMPOSABLE = str.maketrans({
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae",
    "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D",
})


def fold(text: str) -> str:
    """Strip diacritics the way passport machine-readable zones do ("Dvořák" -> "Dvorak")."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _spellings(entry: str) -> tuple[str, str, str]:
    latin, _, native = entry.partition("|")
    return latin, fold(latin), native or latin


def _table(entries: list[str]) -> np.ndarray:
    """(3 scripts, n) object array of spellings."""
    if not entries:
        return np.empty((3, 0), dtype=object)
    return np.array([_spellings(e) for e in entries], dtype=object).T.copy()


def _compile():
    given: list[str] = []
    given_start = np.zeros((len(CULTURES), 2), dtype=np.int64)
    given_count = np.zeros((len(CULTURES), 2), dtype=np.int64)
    surname_forms: list[tuple[str, str]] = []  # (female form, male form)
    surname_start = np.zeros(len(CULTURES), dtype=np.int64)
    cities: list[str] = []
    city_country: list[str] = []
    city_start = np.zeros(len(CULTURES), dtype=np.int64)
    for c, culture in enumerate(CULTURES):
        for form, pool in ((FEMALE_FORM, culture.female), (MALE_FORM, culture.male)):
            given_start[c, form], given_count[c, form] = len(given), len(pool)
            given.extend(pool)
        surname_start[c] = len(surname_forms)
        for entry in culture.surnames:
            male, _, female = entry.partition("/")
            surname_forms.append((female or male, male))
        city_start[c] = len(cities)
        for entry in culture.cities:
            place, _, country = entry.rpartition(":")
            cities.append(place)
            city_country.append(country)
    surname_count = np.diff(np.append(surname_start, len(surname_forms)))
    city_count = np.diff(np.append(city_start, len(cities)))
    surname_text = np.stack([_table([f[0] for f in surname_forms]),
                             _table([f[1] for f in surname_forms])])  # (form, script, n)
    countries = tuple(sorted(set(city_country) | set(DIASPORA_COUNTRIES)))
    return (_table(given), given_start, given_count, surname_text, surname_start, surname_count,
            np.array(cities, dtype=object), np.array([countries.index(c) for c in city_country]),
            city_start, city_count, countries)


(GIVEN_TEXT, _GIVEN_START, _GIVEN_COUNT, SURNAME_TEXT, _SURNAME_START, _SURNAME_COUNT,
 CITY_NAME, CITY_COUNTRY, _CITY_START, _CITY_COUNT, COUNTRIES) = _compile()
COUNTRY_CODE = np.array(COUNTRIES, dtype=object)
DIASPORA = np.array([COUNTRIES.index(c) for c in DIASPORA_COUNTRIES])
CULTURE_WEIGHTS = np.array([c.weight for c in CULTURES], dtype=float)
CULTURE_WEIGHTS /= CULTURE_WEIGHTS.sum()
_MIDDLE_SHARE = np.array([c.middle_name_share for c in CULTURES])
_DOUBLE_SHARE = np.array([c.double_surname_share for c in CULTURES])
# Cultures whose names have a native-script spelling that differs from the Latin one.
HAS_NATIVE_SCRIPT = np.array([
    any("|" in name for name in c.female + c.male + c.surnames) for c in CULTURES
])


def _pick(rng: np.random.Generator, start: np.ndarray, count: np.ndarray) -> np.ndarray:
    return start + (rng.random(start.shape) * count).astype(np.int64)


def sample_names(rng: np.random.Generator, culture: np.ndarray,
                 form: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Given names and surnames as (n, 2) index arrays; column 1 is a middle name / second
    surname or -1."""
    start, count = _GIVEN_START[culture, form], _GIVEN_COUNT[culture, form]
    given = np.stack([_pick(rng, start, count), _pick(rng, start, count)], axis=1)
    # A middle name equal to the first name is dropped rather than redrawn: rare, harmless.
    no_middle = (rng.random(len(culture)) >= _MIDDLE_SHARE[culture]) | (given[:, 1] == given[:, 0])
    given[no_middle, 1] = -1
    start, count = _SURNAME_START[culture], _SURNAME_COUNT[culture]
    surname = np.stack([_pick(rng, start, count), _pick(rng, start, count)], axis=1)
    single = (rng.random(len(culture)) >= _DOUBLE_SHARE[culture]) | (surname[:, 1] == surname[:, 0])
    surname[single, 1] = -1
    return given, surname


def sample_cities(rng: np.random.Generator, culture: np.ndarray) -> np.ndarray:
    return _pick(rng, _CITY_START[culture], _CITY_COUNT[culture])


def render_given(given: np.ndarray, script: np.ndarray) -> np.ndarray:
    """Given names as text (object array); `script` per row is LATIN, ASCII or NATIVE."""
    out = GIVEN_TEXT[script, given[:, 0]]
    second = given[:, 1] >= 0
    out[second] = out[second] + " " + GIVEN_TEXT[script[second], given[second, 1]]
    return out


def render_surname(surname: np.ndarray, form: np.ndarray, script: np.ndarray) -> np.ndarray:
    out = SURNAME_TEXT[form, script, surname[:, 0]]
    second = surname[:, 1] >= 0
    out[second] = out[second] + " " + SURNAME_TEXT[form[second], script[second], surname[second, 1]]
    return out
