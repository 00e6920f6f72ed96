"""Alerting service: receives watchlist-match alerts from the pipeline and lists them for reviewers.

Run one replica with `python -m alerting_service --port 8091`; several replicas behind a
load balancer share one PostgreSQL database, which is what makes them consistent.
"""
