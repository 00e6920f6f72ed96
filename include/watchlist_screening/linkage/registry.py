"""Versioned models: each trained model is saved as JSON (file + warehouse.models row).

The row is what tasks load (any worker can read Postgres, not every worker shares a
disk); the file is the artefact people diff and archive.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class StoredModel:
    version: str
    trained_at: dt.datetime
    training_from: dt.date
    training_to: dt.date
    model: dict
    watchlist_version: int | None = None


def model_version(model: dict, training_to: dt.date) -> str:
    digest = hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:10]
    return f"{training_to:%Y%m%d}-{digest}"


def save_model(dsn: str, model_dir: Path, model: dict, notes: dict, training_from: dt.date,
               training_to: dt.date, watchlist_version: int | None) -> str:
    version = model_version(model, training_to)
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / f"{version}.json"
    path.write_text(json.dumps({"model_version": version, "training_from": str(training_from),
                                "training_to": str(training_to), "notes": notes, "splink_model": model},
                               indent=2, default=str))
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """INSERT INTO warehouse.models (model_version, training_from, training_to, watchlist_version,
                                             model_path, model_json, training_notes)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (model_version) DO UPDATE SET trained_at = now()""",
            (version, training_from, training_to, watchlist_version, str(path), Jsonb(model),
             Jsonb(json.loads(json.dumps(notes, default=str)))),
        )
    return version


def training_notes(dsn: str, version: str) -> dict:
    """The notes a model was saved with (where each parameter came from, labels used)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT training_notes FROM warehouse.models WHERE model_version = %s", (version,)).fetchone()
    return (row[0] if row else None) or {}


def load_model(dsn: str, version: str | None = None) -> StoredModel | None:
    """The named model, or the most recently trained one; None if there is none."""
    query = ("SELECT model_version, trained_at, training_from, training_to, model_json, watchlist_version "
             "FROM warehouse.models")
    with psycopg.connect(dsn) as conn:
        if version:
            row = conn.execute(query + " WHERE model_version = %s", (version,)).fetchone()
        else:
            row = conn.execute(query + " ORDER BY trained_at DESC LIMIT 1").fetchone()
    return StoredModel(*row) if row else None
