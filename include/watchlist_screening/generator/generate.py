"""Generate a landing directory: the watchlist snapshot, then each requested day."""
from __future__ import annotations

import time
from typing import Callable

from . import day, watchlist
from .generator_config import GeneratorConfig


def generate(config: GeneratorConfig, progress: Callable[[str], None] | None = None) -> dict:
    """Write everything `config` asks for; return a summary of the files and counts.
    `progress` hears a line as each part starts and ends (a full-scale day takes minutes)."""
    started = time.perf_counter()
    progress = progress or (lambda message: None)

    def stage(what: str, write: Callable[[], dict], count: Callable[[dict], int]) -> dict:
        progress(f"{what} ...")
        began = time.perf_counter()
        done = write()
        seconds = time.perf_counter() - began
        progress(f"{what}: {count(done):,} records in {seconds:.1f} s "
                 f"({count(done) / max(seconds, 1e-9):,.0f}/s; {time.perf_counter() - started:.1f} s so far)")
        return done

    return {
        "landing_dir": str(config.landing_dir),
        "seed": config.seed,
        "world": config.world.changed(),
        "watchlist": stage(f"watchlist ({config.watchlist_size:,} entries)",
                           lambda: watchlist.write(config.landing_dir, config.seed, config.watchlist_size,
                                                   config.watchlist_duplicates_share, config.world),
                           lambda done: done["entries"]),
        "days": [stage(f"{d} ({len(config.airports)} airports × {config.passengers_per_airport:,} passengers)",
                       lambda d=d: day.write(config, d), lambda done: done["passengers"])
                 for d in config.dates],
    }
