"""Generate a landing directory: the watchlist snapshot, then each requested day."""
from __future__ import annotations

from . import day, watchlist
from .generator_config import GeneratorConfig


def generate(config: GeneratorConfig) -> dict:
    """Write everything `config` asks for; return a summary of the files and counts."""
    return {
        "landing_dir": str(config.landing_dir),
        "seed": config.seed,
        "world": config.world.changed(),
        "watchlist": watchlist.write(config.landing_dir, config.seed, config.watchlist_size,
                                     config.watchlist_duplicates_share, config.world),
        "days": [day.write(config, d) for d in config.dates],
    }
