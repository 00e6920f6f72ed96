"""Old import path of linker.settings_creator, kept only while em_training.py still
imports it (the lead switches it to linkage.linker); delete this file then."""
from watchlist_screening.linkage.linker import settings_creator  # noqa: F401
