"""Idempotency-Key header (IETF draft-ietf-httpapi-idempotency-key-header): parsing, and the
error for a key reused with another request (the request fingerprint is payloads.py's)."""
from __future__ import annotations

import re

MAX_KEY_LENGTH = 255
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")


class InvalidIdempotencyKey(ValueError):
    pass


class IdempotencyKeyReused(Exception):
    def __init__(self, key: str):
        super().__init__(
            f"Idempotency-Key {key!r} was already used with a different request payload; "
            "send a new key for a new payload"
        )


def parse_key(header: str) -> str:
    """The key from the header; the draft sends it as a quoted Structured Field string,
    bare values are accepted too."""
    value = header.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    if not value or len(value) > MAX_KEY_LENGTH or not _PRINTABLE.match(value):
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return value
