"""Deterministic synthetic landing directory for the screening pipeline (see the data
contract in shared/contract/README.md).

    python -m watchlist_screening.generator --landing-dir D --date 2024-05-01 [--date ...]
        --watchlist-size 100000 --airports LHR,CDG --passengers-per-airport 500000
        --sightings 50 --seed 7 --bad-lines 40 [--gzip-airports CDG]
        [--watchlist-duplicates-share 0.02] [--world NAME] [--knob key=value ...]

or `generate(GeneratorConfig(...))`. Writes, under D:

  watchlist/watchlist.jsonl              the snapshot; depends only on seed, size and
                                         duplicate share (byte-identical whatever the dates)
  passengers/<DATE>/<AIRPORT>.jsonl[.gz] per airport and day: passengers-per-airport valid
                                         records plus the day's dirty lines; a rerun replaces
                                         the day's files (stale ones are removed)
  truth/watchlist_persons.jsonl          {"subject_id", "person_id"} per entry
  truth/<DATE>.jsonl                     {"scan_id", "subject_ids", "person_id"} per sighting
  truth/<DATE>.bad_lines.jsonl           {"file" (relative to D), "line" (1-based), "kind"}
  truth/<DATE>.decoys.jsonl              {"scan_id", "subject_id", "kind"} per namesake /
                                         look-alike (not in the contract: for evaluation)

Each day draws from the seed combined with the date, each airport from its own stream, so
days differ and any part can be regenerated alone (rng.py). Files appear atomically; gzip
files carry no timestamp, so the same arguments give the same bytes.

What the data holds, in the default world. Every distributional assumption below (photo
noise, per-airport scanner noise, population structure in faces, look-alike share,
closeness and physique, forged dates, identity-mode shares, eye-colour confusion, height
noise, missing-field rates, name scripts) is a knob of world.World, held by
GeneratorConfig.world; `World()` reproduces the figures below byte for byte, and
world.WORLDS names worlds that push each assumption to an extreme (--world, --knob,
--list-worlds on the command line). Other parameters live next to the code that uses them.

- Faces (faces.py): a latent unit identity vector per person (128-d); a photo is
  (z + sigma*noise) at a random norm ~9, sigma ~ U(0.30, 0.70) per photo: two photos of one
  person have cosine ~0.80 (0.64-0.92), unrelated people ~ Normal(0, 0.088). No two photos
  are identical. Floats are written with 5 decimals.
- Watchlist (watchlist.py): names from 19 naming cultures (cultures.py) with diacritics,
  particles, apostrophes, hyphens, double surnames, gendered surname forms; 40% of people
  from Cyrillic/Greek/Arabic-script cultures are listed in that script (half of them with
  the Latin spelling as an alias). 0-3 aliases (35% with their own birth date). Optional
  fields are missing at realistic rates. A --watchlist-duplicates-share of entries list an
  already listed person again under another agency's subject_id: other aliases, another
  photo of the same face, another height measurement.
- Sightings (sightings.py): exactly --sightings per day, spread over the airports. Same
  face (new photo), sex, height (remeasured: sd ~1.8 cm against the listing, whole or
  half cm), eye colour (recorded anew: hazel/brown/amber and grey/blue confused ~10%).
  Identity: 45% new, 25% a listed alias, 15% own name misspelt, 15% as listed.
- Decoys (decoys.py): per file ~1 namesake and ~1 look-alike per 1,000 passengers, at least
  3 of each. Namesakes share a wanted person's name (30% also the birth date) but nothing
  else; look-alikes have a photo cosine ~0.5-0.8 with the listed photo but a different name,
  and 85% a different sex, a height 9-18 cm off, or an unconfusable eye colour.
- Ordinary travellers (passengers.py, people.py): names and birthplaces by culture,
  nationalities (ISO alpha-3) partly naturalised, 7% children, heights by sex, culture and
  age, eye colours by culture, 20% of names read from the MRZ (no diacritics), scan times
  in UTC following a daily traffic profile and increasing with the line number, scan_id
  <AIRPORT>-<YYYYMMDD>-<line>.
- Dirty lines (dirty.py): --bad-lines per day spread over the files (never line 1, never a
  planted line), kinds cycling truncated_json, not_json, missing_field, malformed_date,
  impossible_height, wrong_length_embedding, non_numeric_embedding, unknown_eye_colour,
  wrong_type, duplicate_scan_id (repeats an earlier ordinary line's scan_id; the earlier
  line is the valid one). Valid records are never corrupted, so the truth stays valid.

Scale: everything streams in chunks (4,096 watchlist entries, 8,192 passenger lines);
memory stays flat for 1,000,000 passengers a day and a 1,000,000-entry watchlist.
"""
from .generator_config import GeneratorConfig
from .generate import generate

__all__ = ["GeneratorConfig", "generate"]
