"""What to generate, checked up front so a bad request fails before anything is written."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .world import DEFAULT_WORLD, World

_AIRPORT = re.compile(r"[A-Z]{3}")
FORMATS = ("jsonl", "parquet")


@dataclass(frozen=True)
class GeneratorConfig:
    landing_dir: Path
    dates: tuple[date, ...]
    watchlist_size: int = 10_000
    airports: tuple[str, ...] = ("LHR", "CDG")
    passengers_per_airport: int = 10_000
    sightings: int = 20  # per date
    seed: int = 0
    bad_lines: int = 0  # per date
    gzip_airports: frozenset[str] = frozenset()
    watchlist_duplicates_share: float = 0.02
    world: World = DEFAULT_WORLD  # the distributions (world.py)
    format: str = "jsonl"  # passenger files: "jsonl" (.jsonl, .jsonl.gz) or "parquet"

    def __post_init__(self) -> None:
        problems = []
        for name in ("watchlist_size", "passengers_per_airport", "sightings", "seed", "bad_lines"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if not self.airports:
            problems.append("at least one airport is needed")
        bad_codes = [a for a in self.airports if not _AIRPORT.fullmatch(a)]
        if bad_codes:
            problems.append(f"airports must be IATA codes (3 capitals): {bad_codes}")
        if len(set(self.airports)) != len(self.airports):
            problems.append("airports must be unique")
        if self.format not in FORMATS:
            problems.append(f"format must be one of {', '.join(FORMATS)}")
        elif self.format == "parquet" and self.gzip_airports:
            problems.append("gzip airports are for the jsonl format only")
        if not self.gzip_airports <= set(self.airports):
            problems.append("gzip airports must be among the airports")
        if len(set(self.dates)) != len(self.dates):
            problems.append("dates must be unique")
        if not 0.0 <= self.watchlist_duplicates_share <= 0.5:
            problems.append("watchlist duplicates share must be within 0..0.5")
        noisy = {airport for airport, _ in self.world.airport_noise}
        if not noisy <= set(self.airports):
            problems.append(f"the world's noisy scanners are not among the airports: "
                            f"{sorted(noisy - set(self.airports))}")
        if self.sightings and not self.watchlist_size:
            problems.append("sightings need a non-empty watchlist")
        # Line 1 of every file stays an ordinary record: the earliest line a duplicate
        # scan_id can repeat and never a sighting, so each file needs one passenger more.
        per_file = math.ceil(self.sightings / max(len(self.airports), 1))
        if (self.sightings or self.bad_lines) and self.passengers_per_airport <= per_file:
            problems.append(f"passengers per airport must exceed the sightings per airport "
                            f"({per_file})")
        if problems:
            raise ValueError("; ".join(problems))
