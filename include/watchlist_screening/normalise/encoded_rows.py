"""Encoded lines to staged rows, in Spark's Python workers: the encoded mode's counterpart
of batch_rows.finish, behind the same staging writer (staging.py) and publish (publish.py).

A good line becomes a row of warehouse.passengers / warehouse.watchlist whose clear
identity columns stay NULL (the watchlist's name and date arrays empty) and whose CLKs
fill the columns V005 added; the protected face template goes where the embedding goes,
scaled to unit length as the clear job scales embeddings (the keyed rotation keeps
cosine). A bad line becomes a quarantine row with its clear identity values withheld.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise import encoded_lines as e
from watchlist_screening.normalise.batch_rows import Finished, file_place, quarantine_rows
from watchlist_screening.normalise.lines import file_line_batches
from watchlist_screening.normalise.records import Dataset
from watchlist_screening.normalise.rules import unit_vectors
from watchlist_screening.normalise.validate import placement_problem

_CLK = ("place_of_birth_clk", "nationality_clk", "dob_clk")
PASSENGER_STAGED = ("scan_id", "airport", "scanned_at", "direction", "name_clk", "surname_clk", *_CLK,
                    "sex", "height_cm", "eye_colour", "face_embedding")
WATCHLIST_STAGED = ("subject_id", "all_names_norm", "all_dobs", "name_clks", "surname_clks", "dob_clks", *_CLK,
                    "sex", "height_cm", "eye_colour", "face_embedding", "listed_on")
_TYPES = {"scanned_at": pa.timestamp("us", "UTC"), "height_cm": pa.float32(), "listed_on": pa.date32(),
          "name_clks": pa.list_(pa.string()), "surname_clks": pa.list_(pa.string()), "dob_clks": pa.list_(pa.string()),
          "all_names_norm": pa.list_(pa.string()), "all_dobs": pa.list_(pa.date32())}
# Empty, never NULL: the columns are NOT NULL, and "no clear name" is what they hold here.
_EMPTY = {"all_names_norm": [], "all_dobs": []}


def _value(record: dict, name: str):
    if name in _EMPTY:
        return _EMPTY[name]
    if name == "dob_clks" and record.get(name) is None:
        return [record["dob_clk"]] if record.get("dob_clk") else []
    value = record.get(name)
    if name in ("name_clks", "surname_clks", "dob_clks"):
        # compared as sets (the best pairing), so the null of a name-less alias says nothing
        return [clk for clk in value if clk is not None]
    if name == "listed_on" and value is not None:
        from datetime import date

        return date.fromisoformat(value)
    return value


def _good_rows(batch: pa.RecordBatch, good: list[tuple[int, dict]], staged: tuple[str, ...]) -> pa.Table:
    rows = pa.array([i for i, _ in good], pa.int64())
    records = [r for _, r in good]
    columns = {}
    for name in staged:
        if name == "face_embedding":
            matrix = np.asarray([r["face_template"] for r in records], np.float64).reshape(len(records), c.EMBEDDING_SIZE)
            offsets = pa.array(np.arange(len(records) + 1, dtype=np.int32) * c.EMBEDDING_SIZE)
            columns[name] = pa.ListArray.from_arrays(offsets, pa.array(unit_vectors(matrix).ravel(), pa.float32()))
        else:
            columns[name] = pa.array([_value(r, name) for r in records], _TYPES.get(name, pa.string()))
    return pa.table({"source_file": batch.column("source_file").take(rows),
                     "source_line": batch.column("line_number").take(rows).cast(pa.int32()), **columns})


def finish(batch: pa.RecordBatch, dataset: Dataset) -> Finished:
    """The batch's good lines as `dataset.staged` rows and its bad lines with their first
    problem; every line lands in exactly one of the two."""
    schema = e.PASSENGERS if dataset.placed else e.WATCHLIST
    day, airport = file_place(batch.column("source_file")[0].as_py()) if batch.num_rows else (None, None)
    texts = batch.column("text").to_pylist()
    shown = batch.column("quarantine_text").to_pylist()
    presets = batch.column("preset_reason").to_pylist()
    preset_details = batch.column("preset_detail").to_pylist()
    good: list[tuple[int, dict]] = []
    bad, problems, raw = [], [], []
    for i, text in enumerate(texts):
        if presets[i] is not None:
            problem = (presets[i], preset_details[i])
        elif text is None:
            problem = (c.NOT_UTF8, c.NOT_UTF8_DETAIL)
        else:
            record, found = e.check_line(text, schema)
            if found is None and dataset.placed:
                found = placement_problem(record["airport"], record["scanned_at"], day, airport)
            if found is None:
                good.append((i, record))
                continue
            problem = (found.reason, found.detail)
        bad.append(i)
        problems.append(problem)
        raw.append(e.withheld(text if text is not None else shown[i]))
    rows = pa.array(bad, pa.int64())
    return Finished(_good_rows(batch, good, dataset.staged),
                    quarantine_rows(batch.column("source_file").take(rows), batch.column("line_number").take(rows),
                                    problems, raw))


def finished_encoded_lines(dataset: Dataset):
    """staging.Finishing of encoded line files: each input row names a file (or part)
    that the task reads itself, as for clear lines (lines.py)."""
    def finished(sources: Iterator[pa.RecordBatch]):
        for source_batch in sources:
            for source in source_batch.to_pylist():
                for batch in file_line_batches(source):
                    yield source["source_file"], finish(batch, dataset)

    return finished


ENCODED_PASSENGERS = Dataset("passengers", (), None, "scan_id", c.DUPLICATE_SCAN_ID, None,
                             staged=PASSENGER_STAGED, placed=True, finishing=finished_encoded_lines)
ENCODED_WATCHLIST = Dataset("watchlist", (), None, "subject_id", c.DUPLICATE_SUBJECT_ID, None,
                            staged=WATCHLIST_STAGED, finishing=finished_encoded_lines)
