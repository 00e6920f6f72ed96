"""Watchlist screening for airports: ingest, normalise, link against the watchlist, alert."""
