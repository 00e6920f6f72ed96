"""Records and keys for the privacy tests: every test makes its own secret."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parents[2] / "docs" / "encoded-contract"


def secret() -> bytes:
    return os.urandom(32)


def embedding(seed: int) -> list[float]:
    return [float(x) for x in np.random.default_rng(seed).standard_normal(128)]


def passenger(**changes) -> dict:
    record = {"scan_id": "S-1", "airport": "LHR", "scanned_at": "2026-11-01T08:30:00Z", "direction": "arrival",
              "flight_number": "BA117", "document_number": "X123", "issuing_country": "GBR",
              "given_names": "Anna Maria", "surname": "Kowalska", "date_of_birth": "1980-05-17",
              "place_of_birth": "Kraków", "nationality": "POL", "sex": "F", "height_cm": 168.0,
              "eye_colour": "blue", "face_embedding": embedding(1)}
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def wanted(**changes) -> dict:
    record = {"subject_id": "W-1", "given_names": "Anna", "surname": "Kowalska", "date_of_birth": "1980-05-17",
              "aliases": [{"given_names": "Ana", "surname": "Kowalski", "date_of_birth": "1981-05-17"},
                          {"given_names": "Marta", "surname": "Nowak"}],
              "place_of_birth": "Krakow", "nationality": "POL", "sex": "F", "height_cm": 170, "eye_colour": "blue",
              "face_embedding": embedding(1), "offence": "fraud", "caution": "none", "listed_on": "2025-01-02"}
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


def validator(name: str):
    from jsonschema import Draft202012Validator, FormatChecker

    return Draft202012Validator(json.loads((DOCS / f"{name}.schema.json").read_text()), format_checker=FormatChecker())
