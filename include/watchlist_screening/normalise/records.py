"""From numbered lines to checked records: Spark parses, validates (tier 1) and types
each line; finish.py completes the record in the writer. A dataset says which values it
keeps and which columns its staging table takes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.contract import Field
from watchlist_screening.normalise.finish import passenger_names, watchlist_names
from watchlist_screening.normalise.spark_checks import check, parse_date, typed_value

_PASSENGER_VALUES = ("scan_id", "airport", "scanned_at", "direction", "flight_number", "document_number",
                     "issuing_country", "given_names", "surname", "date_of_birth", "place_of_birth",
                     "nationality", "sex", "height_cm", "eye_colour", "face_embedding")
_WATCHLIST_VALUES = ("subject_id", "given_names", "surname", "date_of_birth", "place_of_birth", "nationality",
                     "sex", "height_cm", "eye_colour", "face_embedding", "offence", "caution", "listed_on")


@dataclass(frozen=True)
class Dataset:
    name: str                        # warehouse.quarantine.dataset
    fields: tuple[Field, ...]
    id_column: str                   # unique within a day / a watchlist version
    duplicate_reason: str
    values: tuple[str, ...]          # typed values Spark hands to finish.py
    extra: Callable[[Callable[[str], Column]], dict[str, Column]]   # more Spark columns
    derive: Callable[[pa.RecordBatch], dict[str, pa.Array]]         # columns finish.py adds
    staged: tuple[str, ...]          # the record's staging columns, in order


def _no_extra(value: Callable[[str], Column]) -> dict[str, Column]:
    return {}


def _alias_columns(value: Callable[[str], Column]) -> dict[str, Column]:
    aliases = F.try_variant_get(value("aliases"), "$", "array<variant>")

    def each(path: str) -> Column:
        return F.transform(aliases, lambda alias: F.try_variant_get(alias, path, "string"))

    return {"alias_given_names": each("$.given_names"), "alias_surnames": each("$.surname"),
            "alias_dates": F.transform(each("$.date_of_birth"), parse_date),
            "aliases": F.coalesce(F.when(aliases.isNotNull(), F.to_json(value("aliases"))), F.lit("[]"))}


PASSENGERS = Dataset(
    "passengers", c.PASSENGER_FIELDS, "scan_id", c.DUPLICATE_SCAN_ID, _PASSENGER_VALUES, _no_extra, passenger_names,
    staged=("scan_id", "airport", "scanned_at", "direction", "flight_number", "document_number", "issuing_country",
            "given_names", "surname", "given_names_norm", "surname_norm", "full_name_norm", "date_of_birth",
            "place_of_birth", "place_of_birth_norm", "nationality", "sex", "height_cm", "eye_colour",
            "face_embedding"))
WATCHLIST = Dataset(
    "watchlist", c.WATCHLIST_FIELDS, "subject_id", c.DUPLICATE_SUBJECT_ID, _WATCHLIST_VALUES, _alias_columns,
    watchlist_names,
    staged=("subject_id", "given_names", "surname", "given_names_norm", "surname_norm", "full_name_norm",
            "all_names_norm", "date_of_birth", "all_dobs", "aliases", "place_of_birth", "place_of_birth_norm",
            "nationality", "sex", "height_cm", "eye_colour", "face_embedding", "offence", "caution", "listed_on"))


def _for_copy(column: Column, field: Field) -> Column:
    """A typed value as the staging table takes it: numbers as real, timestamps with
    their offset (session.py keeps Spark in UTC)."""
    if field.kind is c.Kind.NUMBER:
        return column.cast("float")
    if field.kind is c.Kind.DATETIME:
        return F.date_format(column, "yyyy-MM-dd HH:mm:ss.SSSSSSXXX")
    return column


def checked_records(lines: DataFrame, dataset: Dataset) -> DataFrame:
    """One row per line, as finish.py reads it: where it came from, any preset problem,
    tier 1's verdict (utf8, fast_valid, parsed), the raw text of lines tier 2 must judge
    (undecided_text) or that may be quarantined (quarantine_text), and the typed values."""
    fields = {f.name: f for f in dataset.fields}

    def value(name: str) -> Column:
        return typed_value(fields[name])

    checked = check(lines, dataset.fields)
    preset = F.col("preset_reason").isNotNull()
    fast_valid = F.col("_fast_valid")
    return checked.select(
        "source_file", "line_number", "preset_reason", "preset_detail",
        F.col("_utf8").alias("utf8"), fast_valid.alias("fast_valid"), F.col("_parsed").alias("parsed"),
        F.when(~preset & F.col("_utf8") & ~fast_valid, F.col("raw_text")).alias("undecided_text"),
        F.when(preset | ~fast_valid, F.make_valid_utf8("raw_text")).alias("quarantine_text"),
        *[_for_copy(value(name), fields[name]).alias(name) for name in dataset.values],
        *[column.alias(name) for name, column in dataset.extra(value).items()],
    )
