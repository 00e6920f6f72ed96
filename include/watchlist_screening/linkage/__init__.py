"""Linkage of the day's passengers against the watchlist: a Splink (Fellegi-Sunter) model
on DuckDB (or Spark: spark_linkage.py), candidate pairs from photo nearest neighbours,
scoring, grouping."""
