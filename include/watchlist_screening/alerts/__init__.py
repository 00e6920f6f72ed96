"""The pipeline's side of the alerting service: payloads, idempotency keys, delivery with
retries, and reviewer decisions read back as training labels."""
from watchlist_screening.alerts.client import (
    AlertClient,
    AlertDeliveryError,
    NonRetryableAlertError,
    RetryableAlertError,
)
from watchlist_screening.alerts.labels import MATCH, NON_MATCH, UNDECIDED, latest_decisions
from watchlist_screening.alerts.payload import batch_idempotency_key, build_alert

__all__ = [
    "MATCH",
    "NON_MATCH",
    "UNDECIDED",
    "AlertClient",
    "AlertDeliveryError",
    "NonRetryableAlertError",
    "RetryableAlertError",
    "batch_idempotency_key",
    "build_alert",
    "latest_decisions",
]
