"""Idempotency-Key header (IETF draft-ietf-httpapi-idempotency-key-header): parsing and the
request fingerprint that tells "same request again" from "key reused for another request"."""
from __future__ import annotations

import hashlib
import json
import re

from pydantic import BaseModel

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


def fingerprint(payload: BaseModel) -> str:
    # Hash of the validated payload in canonical form: key order, whitespace and number
    # spelling (1 vs 1.0) do not make a retried request look different.
    canonical = json.dumps(payload.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
