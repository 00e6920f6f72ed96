"""The two kinds of landing file: a dataset says how its lines are checked (tier 1 and the
contract's fields), what identifies a record, and which columns its staging table takes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pyarrow as pa

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.contract import Field
from watchlist_screening.normalise.batch_rows import passenger_names, watchlist_names
from watchlist_screening.normalise.parse import PASSENGER_TIER1, WATCHLIST_TIER1, Tier1


@dataclass(frozen=True)
class Dataset:
    name: str                        # warehouse.quarantine.dataset
    fields: tuple[Field, ...]
    tier1: Tier1
    id_column: str                   # unique within a day / a watchlist version
    duplicate_reason: str
    derive: Callable[[dict[str, pa.Array], list], dict[str, pa.Array]]   # columns batch_rows.py adds
    staged: tuple[str, ...]          # the record's staging columns, in order
    placed: bool = False             # lines must match their file's airport and day (batch_rows.py)
    # how a task turns its files into staged rows (staging.Finishing), given the dataset;
    # None: staging.finished_lines (clear lines). The encoded mode's: encoded_rows.py
    finishing: Callable | None = None


PASSENGERS = Dataset(
    "passengers", c.PASSENGER_FIELDS, PASSENGER_TIER1, "scan_id", c.DUPLICATE_SCAN_ID, passenger_names,
    staged=("scan_id", "airport", "scanned_at", "direction", "flight_number", "document_number", "issuing_country",
            "given_names", "surname", "given_names_norm", "surname_norm", "full_name_norm", "date_of_birth",
            "place_of_birth", "place_of_birth_norm", "nationality", "sex", "height_cm", "eye_colour",
            "face_embedding"),
    placed=True)
WATCHLIST = Dataset(
    "watchlist", c.WATCHLIST_FIELDS, WATCHLIST_TIER1, "subject_id", c.DUPLICATE_SUBJECT_ID, watchlist_names,
    staged=("subject_id", "given_names", "surname", "given_names_norm", "surname_norm", "full_name_norm",
            "all_names_norm", "date_of_birth", "all_dobs", "aliases", "place_of_birth", "place_of_birth_norm",
            "nationality", "sex", "height_cm", "eye_colour", "face_embedding", "offence", "caution", "listed_on"))
