"""Per-field CLKs: clkhash's keyed Bloom-filter hashing of one field's tokens, then the
hardening (keyed, per-record bit flips), serialised as base64.

clkhash's own `generate_clks` ORs every field into one filter per record; the pipeline
compares each field on its own (name against every alias, date against date), so this
calls clkhash's per-field pieces (tokeniser, strategy, BLAKE2 keyed hashing) once per
field, with clkhash's HKDF giving each field its own key.

Why the flips (BLIP, Schnell & Borgs 2016; advised by Ranbaduge & Schnell 2020): without
them equal values give equal CLKs, so the commonest CLKs of a field line up with the
commonest names of a public register (bench/privacy_bench.py measures it). The flips are
seeded by the record's id and field, so re-encoding a file gives the same bytes (re-runs
stay idempotent) while two people called Smith get different CLKs.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from bitarray import bitarray

from watchlist_screening.privacy import keys
from watchlist_screening.privacy.linkage_schema import LinkageSchema


@dataclass(frozen=True)
class _Field:
    comparator: object
    hash_function: object
    strategy: object
    key: tuple[bytes, ...]
    encoding: str


class ClkEncoder:
    """Encodes the fields of one linkage schema under one secret."""

    def __init__(self, schema: LinkageSchema, secret: bytes):
        from clkhash import schema as clkhash_schema
        from clkhash.bloomfilter import hashing_function_from_properties
        from clkhash.key_derivation import generate_key_lists

        self.schema = schema
        self.bits = schema.clk_bits
        self.flip = schema.hardening.flip_probability
        parsed = clkhash_schema.from_json_dict(schema.clk)
        field_keys = generate_key_lists(keys.derive(secret, "clk"), len(parsed.fields),
                                        key_size=parsed.kdf_key_size, salt=parsed.kdf_salt, info=parsed.kdf_info,
                                        kdf=parsed.kdf_type, hash_algo=parsed.kdf_hash)
        self._fields: dict[str, _Field] = {}
        for field, key in zip(parsed.fields, field_keys):
            fhp = field.hashing_properties
            self._fields[field.identifier] = _Field(fhp.comparator, hashing_function_from_properties(fhp),
                                                    fhp.strategy, key, fhp.encoding)
        self._noise_key = keys.derive(secret, "clk noise")
        # flip bit i when its 16-bit draw is below this: P = flip_probability
        self._flip_below = int(round(self.flip * 65536))

    @property
    def fields(self) -> list[str]:
        return list(self._fields)

    def bloom_filter(self, field: str, value: str) -> bytes:
        """The unhardened keyed Bloom filter of a normalised value (bytes, bit 0 = MSB)."""
        spec = self._fields[field]
        tokens = list(spec.comparator.tokenize(value))
        bf = bitarray(self.bits)
        bf.setall(False)
        if tokens:
            bf |= spec.hash_function(tokens, spec.key, spec.strategy.bits_per_token(len(tokens)), self.bits,
                                     spec.encoding)
        return bf.tobytes()

    def _flip_mask(self, record_id: str, field: str, position: int) -> bytes:
        message = f"{record_id}\x00{field}\x00{position}".encode("utf-8", "surrogatepass")
        stream = hashlib.shake_256(self._noise_key + message).digest(2 * self.bits)
        draws = np.frombuffer(stream, dtype="<u2")
        return np.packbits(draws < self._flip_below).tobytes()

    def harden(self, bloom: bytes, record_id: str, field: str, position: int = 0) -> bytes:
        if not self._flip_below:
            return bloom
        mask = self._flip_mask(record_id, field, position)
        return (int.from_bytes(bloom, "big") ^ int.from_bytes(mask, "big")).to_bytes(len(bloom), "big")

    def encode(self, field: str, value: str | None, record_id: str, position: int = 0) -> str | None:
        """The hardened CLK of one normalised value as base64, None for an absent value.
        `position` tells apart several values of one field in one record (aliases)."""
        if value is None:
            return None
        return to_b64(self.harden(self.bloom_filter(field, value), record_id, field, position))


def to_b64(bits: bytes) -> str:
    return base64.b64encode(bits).decode("ascii")


def from_b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@lru_cache(maxsize=4)
def encoder_for(schema: LinkageSchema, secret: bytes) -> ClkEncoder:
    return ClkEncoder(schema, secret)
