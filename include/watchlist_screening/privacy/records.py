"""One clear contract record in, one encoded line out (docs/encoded-contract/).

A record is checked against the contract first (the clear pipeline's own reference
validator, normalise/validate.py), so the encoder refuses exactly what the clear pipeline
would quarantine, with the same reason and detail.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from watchlist_screening.normalise import contract
from watchlist_screening.normalise.contract import Kind
from watchlist_screening.normalise.validate import first_problem
from watchlist_screening.privacy import face_template, linkage_schema, values
from watchlist_screening.privacy.clk import ClkEncoder, encoder_for


class EncodingError(ValueError):
    """A record that cannot be encoded: `reason` is a quarantine reason code, `detail`
    names the field."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@lru_cache(maxsize=4)
def _without_embedding(fields: tuple) -> tuple:
    return tuple(f for f in fields if f.kind is not Kind.EMBEDDING)


def _plain_embedding(value: Any) -> bool:
    """True for 128 finite floats of finite, non-zero length: the common case, checked at
    C speed. Anything else (ints, bools, strings, odd lengths) goes to the reference
    validator, which names the problem."""
    if not isinstance(value, list) or len(value) != contract.EMBEDDING_SIZE or set(map(type, value)) != {float}:
        return False
    norm = float(np.linalg.norm(np.asarray(value)))
    return 0.0 < norm < math.inf


def _check(record: Any, fields: tuple) -> None:
    if not isinstance(record, dict):
        raise EncodingError(contract.NOT_OBJECT, contract.NOT_OBJECT_DETAIL.format(got=type(record).__name__))
    # the reference validator checks an embedding number by number (a third of the
    # encoding time); a plain one is checked here and skipped there, which finds the
    # same first problem since the embedding has none
    plain = _plain_embedding(record.get("face_embedding"))
    problem = first_problem(record, _without_embedding(fields) if plain else fields)
    if problem:
        raise EncodingError(problem.reason, problem.detail)


def _encoder(secret: bytes) -> ClkEncoder:
    return encoder_for(linkage_schema.current(), secret)


def _template(record: dict, secret: bytes) -> list[float]:
    try:
        return face_template.template(record["face_embedding"], secret, linkage_schema.current().face_decimals)
    except face_template.FaceTemplateError as error:
        raise EncodingError(contract.BAD_EMBEDDING, f"field 'face_embedding': {error}") from None


def _clear(record: dict, names: tuple[str, ...]) -> dict:
    return {n: record[n] for n in names if record.get(n) is not None}


def encode_passenger(record: dict, secret: bytes) -> dict:
    """The encoded line of one passenger-scan record (a dict as the contract's JSON line)."""
    _check(record, contract.PASSENGER_FIELDS)
    enc, rid = _encoder(secret), record["scan_id"]
    return {
        "encoding": enc.schema.encoding,
        **_clear(record, ("scan_id", "airport", "scanned_at", "direction", "sex", "height_cm", "eye_colour")),
        "name_clk": enc.encode("name", values.full_name(record.get("given_names"), record.get("surname")), rid),
        "surname_clk": enc.encode("surname", values.surname(record.get("surname")), rid),
        "dob_clk": enc.encode("date_of_birth", values.date_of_birth(record.get("date_of_birth")), rid),
        "place_of_birth_clk": enc.encode("place_of_birth", values.place(record.get("place_of_birth")), rid),
        "nationality_clk": enc.encode("nationality", values.nationality(record.get("nationality")), rid),
        "face_template": _template(record, secret),
    }


def _listed(enc: ClkEncoder, field: str, texts: list[str | None], rid: str) -> list[str | None]:
    # position i keys the flips of the i-th listed value: an alias equal to the primary
    # name still gets its own noise, so equal CLKs inside one entry do not reveal it
    return [enc.encode(field, text, rid, i) for i, text in enumerate(texts)]


def encode_watchlist_entry(record: dict, secret: bytes) -> dict:
    """The encoded line of one watchlist entry: the primary name first, then one CLK per
    alias (same order in name_clks and surname_clks); dob_clks likewise lists the primary
    date of birth, then each alias's own (null where it has none)."""
    _check(record, contract.WATCHLIST_FIELDS)
    enc, rid = _encoder(secret), record["subject_id"]
    names = [record, *(record.get("aliases") or [])]
    dobs = [values.date_of_birth(n.get("date_of_birth")) for n in names]
    return {
        "encoding": enc.schema.encoding,
        **_clear(record, ("subject_id", "listed_on", "sex", "height_cm", "eye_colour")),
        "name_clks": _listed(enc, "name", [values.full_name(n.get("given_names"), n.get("surname")) for n in names],
                             rid),
        "surname_clks": _listed(enc, "surname", [values.surname(n.get("surname")) for n in names], rid),
        "dob_clk": enc.encode("date_of_birth", dobs[0], rid),
        "dob_clks": _listed(enc, "date_of_birth", dobs, rid),
        "place_of_birth_clk": enc.encode("place_of_birth", values.place(record.get("place_of_birth")), rid),
        "nationality_clk": enc.encode("nationality", values.nationality(record.get("nationality")), rid),
        "face_template": _template(record, secret),
    }
