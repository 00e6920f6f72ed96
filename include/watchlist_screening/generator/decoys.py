"""Innocent travellers who resemble a wanted person, the cases that tempt false alerts.

namesake    the wanted person's name (in its Latin spelling), 30% also their birth date,
            otherwise a stranger: own face, height, eye colour, birthplace.
look_alike  a different person whose identity vector is close to the wanted person's:
            photo cosine with the listed photo ~ Uniform(0.57, 0.73) (about 0.5-0.8 after
            photo noise), a name that is neither theirs nor one of their listed aliases,
            and in 85% of cases a different sex, a height
            9-18 cm off or an eye colour no one would confuse with the listed one.

The figures are the default world's (world.World.namesake_* / look_alike_*). Photos are
taken by the scanner of the airport each decoy passes (`noise_scale`, one per decoy); a
look-alike's identity is placed for the nominal noise, so a worse scanner makes them look
less alike, as it does the wanted themselves.
"""
from __future__ import annotations

from datetime import date

import numpy as np

from . import faces, names
from .cultures import CULTURES
from .passengers import identities
from .people import CONFUSABLE, EYE_COLOURS, People, sample_people
from .watchlist import Wanted
from .world import DEFAULT_WORLD, FaceStructure, World

NAMESAKE_SAME_SEX_SHARE = 0.95  # given names are mostly gendered

_EYE_GROUP = {colour: group for group in CONFUSABLE for colour in group}


def namesakes(rng: np.random.Generator, wanted: list[Wanted], day: date,
              world: World = DEFAULT_WORLD, structure: FaceStructure | None = None,
              noise_scale: np.ndarray | float = 1.0) -> list[dict]:
    n = len(wanted)
    if not n:
        return []
    them = People.concat([w.person for w in wanted])
    sex = np.where(rng.random(n) < NAMESAKE_SAME_SEX_SHARE, them.sex, rng.integers(0, 2, n))
    people = sample_people(rng, n, np.datetime64(day), adults=True, culture=them.culture, sex=sex)
    # The listed birth date (what a name + birth date rule compares), else the real one.
    listed_dob = np.array([w.record.get("date_of_birth", d) for w, d in
                           zip(wanted, np.datetime_as_string(them.dob).tolist())],
                          dtype="datetime64[D]")
    same_dob = rng.random(n) < world.namesake_same_dob_share
    people.dob[same_dob] = listed_dob[same_dob]
    given, surname = them.latin_names()
    z = faces.identities(rng, n, structure, people.culture)
    photo = faces.photos(rng, z, sigma_range=world.photo_sigma, noise_scale=noise_scale)
    return identities(rng, people, photo, given, surname, world)


def _other_eye(rng: np.random.Generator, eye: int) -> int:
    colour = EYE_COLOURS[eye]
    options = [i for i, c in enumerate(EYE_COLOURS) if c not in _EYE_GROUP.get(colour, (colour,))]
    return options[rng.integers(0, len(options))]


def _alias_names(wanted: Wanted) -> set[tuple[str, str]]:
    return {(a["given_names"], a["surname"]) for a in wanted.record.get("aliases", [])}


def look_alikes(rng: np.random.Generator, wanted: list[Wanted], day: date,
                world: World = DEFAULT_WORLD,
                noise_scale: np.ndarray | float = 1.0) -> list[dict]:
    n = len(wanted)
    if not n:
        return []
    them = People.concat([w.person for w in wanted])
    differs = rng.random(n) < world.look_alike_differs_share
    traits = rng.random((n, 3)) < world.look_alike_trait_shares
    none = differs & ~traits.any(axis=1)
    traits[none, rng.integers(0, 3, none.sum())] = True
    traits &= differs[:, None]
    sex = np.where(traits[:, 0], np.where(them.sex == 0, 1, 0), them.sex)
    culture = np.where(rng.random(n) < world.look_alike_same_culture_share, them.culture,
                       rng.choice(len(CULTURES), n, p=names.CULTURE_WEIGHTS))
    people = sample_people(rng, n, np.datetime64(day), adults=True, culture=culture, sex=sex)
    gap = rng.uniform(*world.look_alike_height_gap_cm, n) * rng.choice([-1, 1], n)
    people.height = them.height + np.where(traits[:, 1], gap, 0.0)
    people.eye = np.array([_other_eye(rng, e) if t else e
                           for e, t in zip(them.eye.tolist(), traits[:, 2].tolist())])
    # Same culture and sex make the same name possible: such a traveller would be a
    # namesake too, which this case is not meant to be. That includes the names the
    # listing gives as aliases (a name a wanted person is known to use is theirs too).
    given, surname = people.latin_names()
    for i, (w, their_name) in enumerate(zip(wanted, zip(*them.latin_names()))):
        taken = {their_name, *_alias_names(w)}
        while (given[i], surname[i]) in taken:
            people.given[i] = names.sample_names(rng, culture[[i]], people.form[[i]])[0][0]
            given[i] = people.take([i]).latin_names()[0][0]
    sigma = faces.photo_sigmas(rng, n, world.photo_sigma)
    z = faces.look_alike_identities(rng, np.stack([w.z for w in wanted]),
                                    np.stack([w.photo for w in wanted]),
                                    rng.uniform(*world.look_alike_cosine, n), sigma)
    return identities(rng, people, faces.photos(rng, z, sigma, noise_scale=noise_scale),
                      world=world)
