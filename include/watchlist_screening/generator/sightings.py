"""Sightings: wanted people passing passport control.

They cannot change their face (a new photo of the same identity), sex, height (measured
again) or eye colour (noted again, sometimes confused), but they choose the identity they
travel under:
  new_identity  45%  a forged document: new name, birth date (within 6 years, to fit the
                     face), birthplace and nationality
  alias         25%  one of their listed aliases, with the alias's birth date if listed
  typo          15%  their own name distorted (keying slip, name order swapped, accents dropped)
  as_listed     15%  their own identity
The names on their documents are in the Latin alphabet even when the watchlist spells them
in Cyrillic, Greek or Arabic. The shares and the forged birth date are the default world's
(world.World.mode_shares, forged_dob: "near" as above, or "anywhere": any adult's date).
"""
from __future__ import annotations

from datetime import date

import numpy as np

from . import faces
from .passengers import identities
from .people import People, sample_people
from .variants import misspell
from .watchlist import Wanted
from .world import DEFAULT_WORLD, World

ADULT_AGE = np.timedelta64(18 * 366, "D")


def quotas(n: int, shares) -> list[int]:
    """Split n by shares exactly (largest remainder), so small days keep the mix."""
    raw = np.asarray(shares) * n
    counts = np.floor(raw).astype(int)
    counts[np.argsort(counts - raw, kind="stable")[: n - counts.sum()]] += 1
    return counts.tolist()


def assign_modes(rng: np.random.Generator, wanted: list[Wanted],
                 shares: tuple[float, ...] = DEFAULT_WORLD.mode_shares) -> list[str]:
    """A mode per sighting, in `shares` proportions (new_identity, alias, typo, as_listed);
    alias sightings go to people who have aliases (the shortfall travels under a new
    identity instead)."""
    new, alias, typo, listed = quotas(len(wanted), shares)
    order = rng.permutation(len(wanted)).tolist()
    with_alias = [i for i in order if wanted[i].record.get("aliases")][:alias]
    modes = {i: "alias" for i in with_alias}
    pool = ["new_identity"] * (new + alias - len(with_alias)) + ["typo"] * typo + \
        ["as_listed"] * listed
    modes.update(zip([i for i in order if i not in modes], pool))
    return [modes[i] for i in range(len(wanted))]


def _travelling_as(rng: np.random.Generator, wanted: Wanted, mode: str, day: date,
                   world: World) -> tuple[People, str, str]:
    """The person as their document describes them, and the name on it."""
    person = wanted.person.take([0])
    (given,), (surname,) = person.latin_names()
    if mode == "typo":
        given, surname = misspell(rng, given, surname)
    elif mode == "alias":
        aliases = wanted.record["aliases"]
        alias = aliases[rng.integers(0, len(aliases))]
        given, surname = alias["given_names"], alias["surname"]
        if "date_of_birth" in alias:
            person.dob[0] = np.datetime64(alias["date_of_birth"])
    elif mode == "new_identity":
        forged = sample_people(rng, 1, np.datetime64(day), adults=True, sex=person.sex)
        (given,), (surname,) = forged.latin_names()
        if world.forged_dob == "near":
            shift = np.timedelta64(int(rng.integers(*world.forged_dob_shift_days)
                                       * rng.choice([-1, 1])), "D")
            # A forger keeps the document plausible for the face: an adult's.
            person.dob[0] = min(person.dob[0] + shift, np.datetime64(day) - ADULT_AGE)
        else:  # the forged person's own birth date: any adult's, unrelated to the real one
            person.dob[0] = forged.dob[0]
        person.birthplace[0], person.nationality[0] = forged.birthplace[0], forged.nationality[0]
    return person, given, surname


def sighting(rng: np.random.Generator, wanted: Wanted, mode: str, day: date,
             world: World = DEFAULT_WORLD, noise_scale: float = 1.0) -> dict:
    """The identity part of the scan record of `wanted` travelling in `mode`, photographed
    by a scanner with `noise_scale`."""
    person, given, surname = _travelling_as(rng, wanted, mode, day, world)
    photo = faces.photos(rng, wanted.z[None, :], sigma_range=world.photo_sigma,
                         noise_scale=noise_scale)
    return identities(rng, person, photo, [given], [surname], world)[0]
