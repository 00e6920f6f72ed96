-- Staging for the normalisation job (watchlist_screening.normalise.staging): each run
-- COPYs into its own UNLOGGED table here (staging.passengers_<day>_<run>,
-- staging.watchlist_<run>), publishes to warehouse.* in one transaction and drops it.
-- A table left here belongs to a run that died; it is never read by another run.
CREATE SCHEMA IF NOT EXISTS staging;
