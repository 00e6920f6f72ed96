"""The shared secret: loading it, deriving one sub-key per purpose, and a fingerprint
that lets an operator check two parties used the same secret without learning it.

Why sub-keys: one secret feeds the Bloom-filter hashing of every field, the bit-flip
noise and the face rotation; deriving each with HMAC keeps them independent, so knowing
one (e.g. a rotation recovered from known pairs, see docs/privacy.md) reveals nothing
about the others.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import string
import sys
from pathlib import Path

MIN_SECRET_BYTES = 32
_FINGERPRINT_MESSAGE = b"watchlist-pprl/1 key check"
_HEX = set(string.hexdigits)


class SecretKeyError(ValueError):
    """A secret file that cannot be used (missing, too short); the message names the file."""


def parse_secret(data: bytes, source: str = "secret") -> bytes:
    """The secret in `data`: hex text (whitespace around it ignored) or raw bytes."""
    text = data.strip()
    if text and len(text) % 2 == 0 and all(chr(b) in _HEX for b in text):
        secret = bytes.fromhex(text.decode("ascii"))
        form = "hex"
    else:
        secret, form = data, "raw"
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretKeyError(f"{source}: the secret is {len(secret)} bytes ({form}); at least {MIN_SECRET_BYTES} "
                             f"are required (make one with: python -m watchlist_screening.privacy.keys --new FILE)")
    return secret


def load_secret(path: str | os.PathLike) -> bytes:
    """The secret key in the file at `path` (raw bytes or hex), at least 32 bytes."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SecretKeyError(f"{path}: cannot read the secret file ({error.strerror or error})") from None
    return parse_secret(data, str(path))


def derive(secret: bytes, purpose: str) -> bytes:
    """A 32-byte sub-key for one purpose (a field's hashing, the noise, the rotation)."""
    return hmac.new(secret, b"watchlist-pprl/1 " + purpose.encode("utf-8"), hashlib.sha256).digest()


def fingerprint(secret: bytes) -> str:
    """First 16 hex characters of HMAC-SHA256(secret, "watchlist-pprl/1 key check")."""
    return hmac.new(secret, _FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()[:16]


def new_secret_file(path: str | os.PathLike) -> str:
    """Write a fresh 32-byte secret as hex, readable by its owner only; its fingerprint."""
    secret = os.urandom(MIN_SECRET_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret.hex() + "\n")
    return fingerprint(secret)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m watchlist_screening.privacy.keys",
                                     description="Create a secret key file or print a key file's fingerprint.")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--new", metavar="FILE",
                       help="write a new random 32-byte secret (hex, mode 600); never overwrites")
    group.add_argument("--fingerprint", metavar="FILE", help="print the key fingerprint of an existing secret file")
    args = parser.parse_args(argv)
    try:
        if args.new:
            print(new_secret_file(args.new))
        else:
            print(fingerprint(load_secret(args.fingerprint)))
    except (SecretKeyError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
