"""Alerting service: receives watchlist-match alerts from the pipeline, lists them for
reviewers (API and the /review page), records their decisions with an audit trail and
serves the decisions back to the pipeline as training labels.

Run one replica with `python -m alerting_service --port 8091`; several replicas behind a
load balancer share one PostgreSQL database, which is what makes them consistent.
"""
