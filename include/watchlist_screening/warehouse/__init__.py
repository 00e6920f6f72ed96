"""Postgres warehouse access: migrations, loading and reading the day's partitions."""
