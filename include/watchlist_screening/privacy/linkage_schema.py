"""The versioned linkage schema (linkage_schema_v1.json): which fields become CLKs and
how (clkhash's v3 schema format under "clk"), the hardening, the face template.

Both parties must encode with the same schema and the same secret; the schema's name and
version travel in every encoded line ("encoding") and in the manifest, so a pipeline
never compares CLKs made under different rules.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from watchlist_screening.privacy import ENCODING, LINKAGE_SCHEMA, VERSION

SCHEMA_FILE = "linkage_schema_v1.json"


class LinkageSchemaError(ValueError):
    """A linkage schema that cannot be used; the message names what is wrong."""


@dataclass(frozen=True)
class Hardening:
    flip_probability: float   # each bit of a CLK flipped with this probability (keyed, per record)


@dataclass(frozen=True, eq=False)   # hashed by identity: encoders are cached per schema
class LinkageSchema:
    name: str
    version: int
    clk: dict[str, Any]          # clkhash v3 linkage schema
    hardening: Hardening
    face_decimals: int
    raw: dict[str, Any]

    @property
    def encoding(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def fields(self) -> list[str]:
        return [f["identifier"] for f in self.clk["features"]]

    @property
    def clk_bits(self) -> int:
        return int(self.clk["clkConfig"]["l"])


def from_dict(raw: dict[str, Any], source: str = "linkage schema") -> LinkageSchema:
    from clkhash import schema as clkhash_schema

    try:
        clkhash_schema.from_json_dict(raw["clk"])   # clkhash's own validation of its part
        blip = raw.get("hardening") or {}
        flip = float(blip.get("flip_probability", 0.0)) if blip.get("method", "blip") == "blip" else 0.0
        if not 0.0 <= flip < 0.5:
            raise LinkageSchemaError(f"{source}: hardening.flip_probability must be in [0, 0.5), got {flip}")
        return LinkageSchema(name=str(raw["linkage_schema"]), version=int(raw["version"]), clk=raw["clk"],
                             hardening=Hardening(flip), face_decimals=int(raw["face_template"]["decimals"]),
                             raw=raw)
    except KeyError as error:
        raise LinkageSchemaError(f"{source}: missing key {error}") from None
    except clkhash_schema.SchemaError as error:
        raise LinkageSchemaError(f"{source}: clk part is not a valid clkhash v3 schema: {error}") from None


@lru_cache(maxsize=1)
def current() -> LinkageSchema:
    """The schema every encoded line of this version is made with."""
    text = resources.files("watchlist_screening.privacy").joinpath(SCHEMA_FILE).read_text("utf-8")
    schema = from_dict(json.loads(text), SCHEMA_FILE)
    if schema.encoding != ENCODING or schema.name != LINKAGE_SCHEMA or schema.version != VERSION:
        raise LinkageSchemaError(f"{SCHEMA_FILE} says {schema.encoding}, the code expects {ENCODING}")
    return schema
