"""People as struct-of-arrays: who they are (name, birth, nationality) and what they look
like (sex, true height, true eye colour), plus how records of them come out when a person
measures height or notes eye colour."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import names
from .cultures import CULTURES
from .world import DEFAULT_WORLD

SEXES = np.array(["F", "M", "X"], dtype=object)
SEX_SHARES = (0.49, 0.50, 0.01)
EYE_COLOURS = np.array(["amber", "blue", "brown", "green", "grey", "hazel", "other"], dtype=object)
_EYE = {colour: i for i, colour in enumerate(EYE_COLOURS)}
EYE_PROFILES = {  # shares in EYE_COLOURS order
    "light": (0.02, 0.45, 0.18, 0.12, 0.10, 0.12, 0.01),
    "mixed": (0.04, 0.14, 0.55, 0.08, 0.04, 0.14, 0.01),
    "dark": (0.04, 0.01, 0.88, 0.01, 0.01, 0.04, 0.01),
}
# Colours a person noting them down mixes up with each other.
CONFUSABLE = (("amber", "brown", "hazel"), ("blue", "grey"))

HEIGHT_MEAN_CM = np.array([164.0, 177.5, 170.0])  # by sex code
HEIGHT_SD_CM = np.array([6.5, 7.2, 8.0])
MIN_HEIGHT_CM = 60.0
# Children's height as a share of their adult height, by age in years.
_GROWTH_AGE = np.array([1.0, 2.0, 5.0, 10.0, 14.0, 18.0])
_GROWTH_SHARE = np.array([0.43, 0.50, 0.63, 0.79, 0.93, 1.0])

CHILD_SHARE = 0.07  # of travellers
NATURALISED_SHARE = 0.12  # nationality differs from country of birth

_HEIGHT_OFFSET = np.array([c.height_offset_cm for c in CULTURES])
_EYE_CDF = np.array([np.cumsum(EYE_PROFILES[c.eyes]) for c in CULTURES])


def _confusion_table() -> tuple[np.ndarray, np.ndarray]:
    alternatives = np.full((len(EYE_COLOURS), 2), -1)
    count = np.zeros(len(EYE_COLOURS), dtype=np.int64)
    for group in CONFUSABLE:
        for colour in group:
            others = [_EYE[o] for o in group if o != colour]
            alternatives[_EYE[colour], : len(others)] = others
            count[_EYE[colour]] = len(others)
    return alternatives, count


_EYE_ALTERNATIVES, _EYE_ALTERNATIVE_COUNT = _confusion_table()


@dataclass
class People:
    culture: np.ndarray  # index into CULTURES
    sex: np.ndarray  # index into SEXES
    form: np.ndarray  # names.FEMALE_FORM / MALE_FORM: which gendered name forms they use
    given: np.ndarray  # (n, 2) name indices, see names.sample_names
    surname: np.ndarray  # (n, 2)
    dob: np.ndarray  # datetime64[D]
    birthplace: np.ndarray  # index into names.CITY_NAME
    nationality: np.ndarray  # index into names.COUNTRIES
    height: np.ndarray  # true height in cm
    eye: np.ndarray  # true eye colour, index into EYE_COLOURS

    def __len__(self) -> int:
        return len(self.culture)

    def take(self, rows) -> People:
        return People(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[People]) -> People:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls)})

    def latin_names(self) -> tuple[list[str], list[str]]:
        """Given names and surnames as a passport's visual zone spells them."""
        latin = np.full(len(self), names.LATIN)
        return (names.render_given(self.given, latin).tolist(),
                names.render_surname(self.surname, self.form, latin).tolist())

    def copy_rows(self, dst: np.ndarray, src: np.ndarray) -> None:
        """Make rows `dst` the same people as rows `src` (in place)."""
        for f in fields(self):
            column = getattr(self, f.name)
            column[dst] = column[src]


def _ages_in_years(rng: np.random.Generator, n: int, adults: bool) -> np.ndarray:
    if adults:
        return np.clip(rng.normal(37.0, 11.0, n), 18.0, 75.0)
    grown_up = np.clip(rng.normal(43.0, 15.0, n), 18.0, 90.0)
    children = rng.uniform(1.0, 18.0, n)
    return np.where(rng.random(n) < CHILD_SHARE, children, grown_up)


def sample_people(rng: np.random.Generator, n: int, on: np.datetime64, *, adults: bool,
                  culture: np.ndarray | None = None, sex: np.ndarray | None = None) -> People:
    """n people alive on date `on`: adults 18-75 (the wanted, and those mistaken for them)
    or travellers of all ages. `culture`/`sex` pin those attributes."""
    if culture is None:
        culture = rng.choice(len(CULTURES), n, p=names.CULTURE_WEIGHTS)
    if sex is None:
        sex = rng.choice(3, n, p=SEX_SHARES)
    # People registered as X still carry names of one gendered form.
    form = np.where(sex == 2, rng.integers(0, 2, n), np.where(sex == 0, names.FEMALE_FORM,
                                                                names.MALE_FORM))
    given, surname = names.sample_names(rng, culture, form)
    age = _ages_in_years(rng, n, adults)
    dob = np.datetime64(on, "D") - (age * 365.25).astype(np.int64).astype("timedelta64[D]")
    birthplace = names.sample_cities(rng, culture)
    nationality = names.CITY_COUNTRY[birthplace].copy()
    naturalised = rng.random(n) < NATURALISED_SHARE
    nationality[naturalised] = rng.choice(names.DIASPORA, naturalised.sum())
    adult_height = rng.normal(HEIGHT_MEAN_CM[sex] + _HEIGHT_OFFSET[culture], HEIGHT_SD_CM[sex])
    # The floor keeps the smallest toddler well inside the contract's 50 cm minimum.
    height = np.maximum(adult_height * np.interp(age, _GROWTH_AGE, _GROWTH_SHARE), MIN_HEIGHT_CM)
    eye = (rng.random(n)[:, None] > _EYE_CDF[culture]).sum(axis=1)
    return People(culture=np.asarray(culture), sex=np.asarray(sex), form=form, given=given,
                  surname=surname, dob=dob, birthplace=birthplace, nationality=nationality,
                  height=height, eye=eye)


def measured_height(rng: np.random.Generator, true_height: np.ndarray,
                    step: np.ndarray | float = 1.0,
                    noise_sd: float = DEFAULT_WORLD.height_noise_sd_cm) -> np.ndarray:
    """A height as recorded: true height plus measurement noise, rounded to `step` cm. At
    the default noise two measurements of one person differ by sd ~1.8 cm."""
    noisy = true_height + rng.normal(0.0, noise_sd, np.shape(true_height))
    return np.round(noisy / step) * step


def recorded_eye(rng: np.random.Generator, eye: np.ndarray,
                 rate: float = DEFAULT_WORLD.eye_colour_confusion_rate) -> np.ndarray:
    """Eye colour as noted by a person: sometimes a confusable neighbour of the true one. At
    the default rate two records of one person disagree ~10% of the time."""
    n = len(eye)
    confused = (rng.random(n) < rate) & (_EYE_ALTERNATIVE_COUNT[eye] > 0)
    pick = (rng.random(n) * _EYE_ALTERNATIVE_COUNT[eye]).astype(np.int64)
    return np.where(confused, _EYE_ALTERNATIVES[eye, pick], eye)


def height_values(heights: np.ndarray) -> list[int | float]:
    """JSON-ready heights: whole centimetres as integers, half centimetres as floats."""
    return [int(h) if h == int(h) else float(h) for h in heights.tolist()]
