"""Old import path of pipeline_settings.py, kept only while bench/scenario_grid.py still
imports it (its owner switches it); delete this file then."""
from watchlist_screening.pipeline_settings import LOCAL_DIR, REPO_ROOT, Settings  # noqa: F401
