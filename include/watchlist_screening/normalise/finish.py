"""The last step of a record, on Arrow batches in Spark's Python workers (the writer
calls it just before COPY): the problem of each line tier 1 did not pass, normalised
names, embeddings at unit length, and values cleared on problem lines.

One vectorised Python stage instead of Python UDFs inside the Spark plan: a UDF makes
Spark queue every row (spilling to disk) while Python works, which measured costlier than
the whole normalisation.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.arrow_names import join_names, normalise_names
from watchlist_screening.normalise.contract import Field
from watchlist_screening.normalise.rules import normalise_full_name, unit_vectors
from watchlist_screening.normalise.validate import check_line

def _problems(batch: pa.RecordBatch, fields: tuple[Field, ...]) -> tuple[pa.Array, pa.Array]:
    """(reason, detail) per line: preset, not UTF-8, or validate.check_line's verdict
    on the lines tier 1 did not pass; NULL for good lines."""
    column = batch.column
    if column("preset_reason").null_count == batch.num_rows and pc.all(column("fast_valid")).as_py():
        return pa.nulls(batch.num_rows, pa.string()), pa.nulls(batch.num_rows, pa.string())
    reasons, details = column("preset_reason").to_pylist(), column("preset_detail").to_pylist()
    utf8, parsed, undecided = column("utf8").to_pylist(), column("parsed").to_pylist(), column("undecided_text").to_pylist()
    for i, text in enumerate(undecided):
        if reasons[i] is not None:
            continue
        if not utf8[i]:
            reasons[i], details[i] = c.NOT_UTF8, c.NOT_UTF8_DETAIL
        elif text is not None:
            _, found = check_line(text, fields)
            if found:
                reasons[i], details[i] = found.reason, found.detail
            elif not parsed[i]:
                # Good by the reference, but Spark has no values for it: never a row of NULLs.
                reasons[i], details[i] = c.CHECK_DISAGREEMENT, c.CHECK_DISAGREEMENT_DETAIL
    return pa.array(reasons, pa.string()), pa.array(details, pa.string())


def unit_vector_literals(vectors: pa.ListArray) -> pa.StringArray:
    """Embeddings (list<double>, NULL on problem lines) scaled to unit length with
    rules.unit_vectors, as PostgreSQL real[] literals printed by Arrow (shortest
    round-trip text, ~10x faster than Spark's float-to-string)."""
    present = np.asarray(vectors.is_valid())
    kept = vectors.filter(pa.array(present))
    matrix = np.asarray(kept.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
    units = unit_vectors(matrix.reshape(len(kept), c.EMBEDDING_SIZE))
    offsets = pa.array(np.arange(len(kept) + 1, dtype=np.int32) * c.EMBEDDING_SIZE)
    texts = pa.ListArray.from_arrays(offsets, pc.cast(pa.array(units.ravel()), pa.string()))
    literals = pc.binary_join_element_wise("{", pc.binary_join(texts, ","), "}", "")
    # back to one value per line: lines without an embedding point at a trailing NULL
    position = np.where(present, np.cumsum(present) - 1, len(kept))
    return pc.take(pa.concat_arrays([literals, pa.nulls(1, pa.string())]), pa.array(position))


def _pg_array(items: list) -> str:
    return "{" + ",".join(f'"{item}"' for item in items) + "}"


def passenger_names(batch: pa.RecordBatch) -> dict[str, pa.Array]:
    given, surname = normalise_names(batch.column("given_names")), normalise_names(batch.column("surname"))
    return {"given_names_norm": given, "surname_norm": surname, "full_name_norm": join_names(given, surname),
            "place_of_birth_norm": normalise_names(batch.column("place_of_birth"))}


def watchlist_names(batch: pa.RecordBatch) -> dict[str, pa.Array]:
    """Passenger names plus every name and date of birth of the subject (primary first)
    as PostgreSQL array literals. Per row in Python: watchlists are small."""
    names = passenger_names(batch)
    all_names, all_dobs = [], []
    rows = zip(names["full_name_norm"].to_pylist(), batch.column("alias_given_names").to_pylist(),
               batch.column("alias_surnames").to_pylist(), batch.column("date_of_birth").to_pylist(),
               batch.column("alias_dates").to_pylist())
    for full_name, alias_given, alias_surname, birth, alias_dates in rows:
        alias_names = [normalise_full_name(g, s) for g, s in zip(alias_given or [], alias_surname or [])]
        all_names.append(_pg_array([n for n in [full_name, *alias_names] if n]))
        all_dobs.append(_pg_array([d.isoformat() for d in [birth, *(alias_dates or [])] if d]))
    return {**names, "all_names_norm": pa.array(all_names, pa.string()), "all_dobs": pa.array(all_dobs, pa.string())}


def _no_nul(column: pa.Array) -> pa.Array:
    # PostgreSQL text cannot hold NUL; JSON can ("\u0000").
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.replace_substring(column, "\x00", "\ufffd")
    return column


def finish(batch: pa.RecordBatch, dataset) -> pa.RecordBatch:
    """The batch as the staging table takes it: staging.LINE_COLUMNS, then
    `dataset.staged` (a records.Dataset)."""
    reason, detail = _problems(batch, dataset.fields)
    good = pc.is_null(reason)
    derived = dataset.derive(batch)
    null_unless_good = lambda values: pc.if_else(good, values, pa.nulls(len(values), values.type))  # noqa: E731
    null_unless_bad = lambda values: pc.if_else(good, pa.nulls(len(values), values.type), values)  # noqa: E731
    values = {name: null_unless_good(derived[name] if name in derived else batch.column(name))
              for name in dataset.staged}
    values["face_embedding"] = unit_vector_literals(values["face_embedding"])
    columns = {"source_file": batch.column("source_file"), "line_number": batch.column("line_number"),
               "reason": reason, "detail": detail,
               "raw_text": null_unless_bad(batch.column("quarantine_text")),
               **values}
    return pa.RecordBatch.from_pydict({name: _no_nul(column) for name, column in columns.items()})
