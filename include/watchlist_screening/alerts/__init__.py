"""The pipeline's side of the alerting service: payloads, idempotency keys, delivery with retries."""
from watchlist_screening.alerts.client import (
    AlertClient,
    AlertDeliveryError,
    NonRetryableAlertError,
    RetryableAlertError,
)
from watchlist_screening.alerts.payload import batch_idempotency_key, build_alert

__all__ = [
    "AlertClient",
    "AlertDeliveryError",
    "NonRetryableAlertError",
    "RetryableAlertError",
    "batch_idempotency_key",
    "build_alert",
]
