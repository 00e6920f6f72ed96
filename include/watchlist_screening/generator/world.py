"""The world a generated day comes from: every distributional assumption of the generator as
a knob, so the linkage can be measured on a family of worlds rather than on one.

`World()` is the generator's historical world: with it, a seed gives byte-identical output
to the generator before these knobs existed. A knob changed away from its default may draw
different random numbers (for example a missing-field rate that becomes non-zero), so a
shifted world is deterministic per seed but not a perturbation of the default one's data.

Named presets (`WORLDS`) push one assumption to an extreme each, and `all_shifted` pushes
them all at once; evaluation/scenarios.py runs the linkage over them.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field, fields

import numpy as np

FORGED_DOB_MODES = ("near", "anywhere")


@dataclass(frozen=True)
class World:
    # --- faces (faces.py) ---
    # Per-photo noise sigma ~ Uniform(range): two photos of one person have cosine ~0.80
    # (0.64-0.92) at the default.
    photo_sigma: tuple[float, float] = (0.30, 0.70)
    # (airport, multiplier) pairs: that airport's scanner multiplies the noise of the photos
    # it takes (sightings and decoys there included; watchlist photos are not scanned).
    airport_noise: tuple[tuple[str, float], ...] = ()
    # Population structure: people fall into `face_groups` groups (by naming culture, so a
    # group also shares names) whose identity vectors share a direction; two strangers of
    # one group then have identity cosine ~face_group_share instead of ~0. 0 groups = none.
    face_groups: int = 0
    face_group_share: float = 0.0

    # --- decoys (decoys.py) ---
    namesake_rate: float = 0.001  # per passenger (at least 3 a file while > 0)
    look_alike_rate: float = 0.001
    # Identity-level target cosine with the listed photo (photo cosine ~0.5-0.8 after noise).
    look_alike_cosine: tuple[float, float] = (0.57, 0.73)
    # Share of look-alikes that differ in sex, height or eye colour; the rest share all three
    # (up to measurement noise and eye-colour confusion).
    look_alike_differs_share: float = 0.85
    # Given that a look-alike differs, the chance that each trait does (at least one will).
    look_alike_trait_shares: tuple[float, float, float] = (0.35, 0.6, 0.5)  # sex, height, eye
    look_alike_height_gap_cm: tuple[float, float] = (9.0, 18.0)
    look_alike_same_culture_share: float = 0.7
    namesake_same_dob_share: float = 0.3

    # --- sightings (sightings.py) ---
    # new_identity, alias, typo, as_listed
    mode_shares: tuple[float, float, float, float] = (0.45, 0.25, 0.15, 0.15)
    # A forged birth date: "near" the real one (shifted by forged_dob_shift_days, either
    # direction), or "anywhere" (any adult's birth date, unrelated to the real one).
    forged_dob: str = "near"
    forged_dob_shift_days: tuple[int, int] = (365, 6 * 365)
    alias_dob_share: float = 0.35  # listed aliases that carry their own birth date

    # --- records (people.py, watchlist.py, passengers.py) ---
    eye_colour_confusion_rate: float = 0.055  # per record
    height_noise_sd_cm: float = 1.25  # per measurement
    watchlist_missing_date_of_birth: float = 0.08
    watchlist_missing_place_of_birth: float = 0.30
    watchlist_missing_nationality: float = 0.12
    passenger_missing_place_of_birth: float = 0.03
    passenger_missing_nationality: float = 0.0

    # --- name scripts (watchlist.py, passengers.py) ---
    native_listing_share: float = 0.4  # of people whose culture has a native script
    transliteration_alias_share: float = 0.5  # of native listings: Latin name as first alias
    mrz_name_share: float = 0.2  # passenger names read from the MRZ (no diacritics)

    def __post_init__(self) -> None:
        problems = []
        shares = ("face_group_share", "namesake_rate", "look_alike_rate",
                  "look_alike_differs_share", "look_alike_same_culture_share",
                  "namesake_same_dob_share", "alias_dob_share",
                  "eye_colour_confusion_rate", "watchlist_missing_date_of_birth",
                  "watchlist_missing_place_of_birth", "watchlist_missing_nationality",
                  "passenger_missing_place_of_birth", "passenger_missing_nationality",
                  "native_listing_share", "transliteration_alias_share", "mrz_name_share")
        for name in shares:
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be within 0..1")
        for name in ("photo_sigma", "look_alike_cosine", "look_alike_height_gap_cm",
                     "forged_dob_shift_days"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                problems.append(f"{name} must be a range (low <= high, not negative)")
        if self.look_alike_cosine[1] >= 1.0:
            problems.append("look_alike_cosine must stay below 1")
        if self.forged_dob_shift_days[0] >= self.forged_dob_shift_days[1]:
            problems.append("forged_dob_shift_days must span at least a day")
        if len(self.mode_shares) != 4 or min(self.mode_shares) < 0 or \
                abs(sum(self.mode_shares) - 1.0) > 1e-9:
            problems.append("mode_shares: four non-negative shares summing to 1")
        if self.forged_dob not in FORGED_DOB_MODES:
            problems.append(f"forged_dob must be one of {FORGED_DOB_MODES}")
        if self.face_groups < 0:
            problems.append("face_groups must not be negative")
        if len(self.look_alike_trait_shares) != 3 or \
                not all(0.0 <= s <= 1.0 for s in self.look_alike_trait_shares):
            problems.append("look_alike_trait_shares: three shares within 0..1")
        if any(m <= 0 for _, m in self.airport_noise):
            problems.append("airport noise multipliers must be positive")
        if self.height_noise_sd_cm < 0:
            problems.append("height_noise_sd_cm must not be negative")
        if problems:
            raise ValueError("; ".join(problems))

    def noise_at(self, airport: str) -> float:
        return dict(self.airport_noise).get(airport, 1.0)

    def replace(self, **knobs) -> World:
        return dataclasses.replace(self, **knobs)

    def changed(self) -> dict:
        """The knobs that differ from the default world (for reports)."""
        default = World()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}


DEFAULT_WORLD = World()


@dataclass(frozen=True)
class FaceStructure:
    """Group directions of a structured population and the share each identity takes."""
    directions: np.ndarray = field(repr=False)  # (groups, DIM), unit rows
    share: float


@functools.lru_cache(maxsize=8)
def face_structure(seed: int, groups: int, share: float) -> FaceStructure | None:
    """The world's group directions: one draw per seed, shared by the watchlist and every
    day, so a group means the same look everywhere."""
    if groups == 0 or share == 0.0:
        return None
    from .faces import DIM, _unit
    from .rng import stream

    return FaceStructure(_unit(stream(seed, "face_groups").standard_normal((groups, DIM))), share)


def structure_of(world: World, seed: int) -> FaceStructure | None:
    return face_structure(seed, world.face_groups, world.face_group_share)


# Each preset pushes one assumption well past the default; `all_shifted` combines them.
_SHIFTS: dict[str, dict] = {
    # The second default airport scans with 1.8x the noise, and photos vary more everywhere:
    # same-person cosines there fall to ~0.45-0.8.
    "noisy_scanner": {"photo_sigma": (0.30, 0.90), "airport_noise": (("CDG", 1.8),)},
    # Strangers of one group share a third of the face direction.
    "structured_faces": {"face_groups": 4, "face_group_share": 0.35},
    # Look-alikes share sex, height and eye colour 70% of the time (default 15%).
    "lookalikes_share_physique": {"look_alike_differs_share": 0.30},
    # More look-alikes, closer to the listed face (photo cosine ~0.65-0.85).
    "close_lookalikes": {"look_alike_rate": 0.003, "look_alike_cosine": (0.68, 0.85)},
    "forged_dates_anywhere": {"forged_dob": "anywhere"},
    # Most wanted people travel under a new identity.
    "new_identities_mostly": {"mode_shares": (0.85, 0.05, 0.05, 0.05)},
    "heavy_missing": {"watchlist_missing_date_of_birth": 0.5, "watchlist_missing_place_of_birth": 0.8,
                      "watchlist_missing_nationality": 0.6, "passenger_missing_place_of_birth": 0.5,
                      "passenger_missing_nationality": 0.3},
    "eye_confusion_high": {"eye_colour_confusion_rate": 0.3},
    "height_noise_high": {"height_noise_sd_cm": 4.0},
    # Most script-bearing people listed in their own script, every passenger name from the MRZ.
    "native_scripts": {"native_listing_share": 0.9, "transliteration_alias_share": 0.1,
                       "mrz_name_share": 1.0},
}
WORLDS: dict[str, World] = {"default": DEFAULT_WORLD,
                            **{name: World(**knobs) for name, knobs in _SHIFTS.items()},
                            "all_shifted": World(**{k: v for knobs in _SHIFTS.values()
                                                    for k, v in knobs.items()})}


def parse_knob(text: str) -> tuple[str, object]:
    """`key=value` with the value in the knob's type: numbers, `a,b` for ranges and shares,
    `CDG:1.8,LHR:1.2` for airport_noise."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip().replace("-", "_"), raw.strip()
    known = {f.name: getattr(DEFAULT_WORLD, f.name) for f in fields(World)}
    if not sep or key not in known:
        raise ValueError(f"unknown knob {key!r}; knobs: {', '.join(known)}")
    default = known[key]
    if key == "airport_noise":
        pairs = [item.split(":") for item in raw.split(",") if item.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValueError("airport_noise: AIRPORT:MULTIPLIER[,AIRPORT:MULTIPLIER...]")
        return key, tuple((a.strip().upper(), float(m)) for a, m in pairs)
    if isinstance(default, tuple):
        kind = type(default[0])
        return key, tuple(kind(v) for v in raw.split(","))
    if isinstance(default, bool):
        return key, raw.lower() in ("1", "true", "yes")
    return key, type(default)(raw)


def world_from(name: str = "default", knobs: list[str] | tuple[str, ...] = ()) -> World:
    """A named preset with `key=value` knobs applied on top."""
    if name not in WORLDS:
        raise ValueError(f"unknown world {name!r}; worlds: {', '.join(WORLDS)}")
    return WORLDS[name].replace(**dict(parse_knob(k) for k in knobs))
