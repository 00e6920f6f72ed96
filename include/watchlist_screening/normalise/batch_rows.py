"""Lines to staged rows, on Arrow batches in Spark's Python workers (the writer calls it
just before COPY): tier 1 (parse.py) decodes and types each line, tier 2 (validate.py)
names the problem of every line tier 1 did not pass, then names are normalised and
embeddings scaled to unit length over the whole batch.

One vectorised Python stage instead of Python UDFs inside the Spark plan: a UDF makes
Spark queue every row (spilling to disk) while Python works, which measured costlier than
the whole normalisation.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from itertools import chain

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from watchlist_screening.normalise import contract as c
from watchlist_screening.normalise.arrow_names import join_names, normalise_names
from watchlist_screening.normalise.contract import Kind
from watchlist_screening.normalise.rules import embedding_lengths, normalise_full_name, unit_vectors
from watchlist_screening.normalise.validate import Problem, check_line, free_text, placement_problem

LINE_COLUMNS = ("source_file", "line_number", "reason", "detail", "raw_text")
_ARROW_TYPES = {Kind.DATE: pa.date32(), Kind.DATETIME: pa.timestamp("us", "UTC"), Kind.NUMBER: pa.float32()}
_EMBEDDINGS = pa.list_(pa.float32())
# passengers/<day>/<AIRPORT>.<format>: where the contract says a day's file lives
_DAY_FILE = re.compile(r"passengers/([0-9]{4}-[0-9]{2}-[0-9]{2})/([A-Z]{3})\.[a-z.]+")


def _empty_lines() -> pa.Table:
    return pa.table({name: pa.array([], pa.int32() if name == "line_number" else pa.string())
                     for name in LINE_COLUMNS})


@dataclass(frozen=True)
class Finished:
    good: pa.Table    # source_file, source_line and the dataset's staged columns
    bad: pa.Table     # LINE_COLUMNS: one row per quarantined line
    # LINE_COLUMNS: rows about good lines that were kept altered (free text cut); they go
    # to the quarantine table as warnings, and are not counted as lines
    warnings: pa.Table = field(default_factory=_empty_lines)


def file_place(source_file: str) -> tuple[date | None, str | None]:
    """The day and airport a passenger file stands for, from its path in the landing
    zone; (None, None) for a file outside the contract's layout."""
    found = _DAY_FILE.fullmatch(source_file)
    if not found:
        return None, None
    try:
        return date.fromisoformat(found.group(1)), found.group(2)
    except ValueError:
        return None, found.group(2)


def _no_nul(column: pa.Array) -> pa.Array:
    # PostgreSQL text cannot hold NUL; JSON can ("\u0000").
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pc.replace_substring(column, "\x00", "\ufffd")
    return column


def opener_counts(texts: pa.Array) -> list[int]:
    """How many '[' and '{' each line holds (0 for NULL), in one vectorised pass over the
    batch's UTF-8 bytes: counting line by line in Python cost as much again as decoding
    (tier 1 checks the nesting of every line). Neither byte occurs inside a multi-byte
    UTF-8 character."""
    if len(texts) == 0:
        return []
    texts = texts.cast(pa.large_string())
    offsets = np.frombuffer(texts.buffers()[1], np.int64)[texts.offset:texts.offset + len(texts) + 1]
    data = texts.buffers()[2]
    if data is None:
        return [0] * len(texts)
    window = np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]]
    found = np.flatnonzero((window | 0x20) == 0x7B) + offsets[0]   # '[' is 0x5B, '{' 0x7B: nothing else
    lines = np.searchsorted(offsets, found, side="right") - 1
    return np.bincount(lines, minlength=len(texts)).tolist()


def _decode(batch: pa.RecordBatch, dataset) -> list:
    """Tier 1's record per line, None where it gave up or the line has a preset problem."""
    decode = dataset.tier1.decode
    texts = batch.column("text")
    presets = batch.column("preset_reason").to_pylist()
    return [decode(text, openers) if text is not None and preset is None else None
            for text, preset, openers in zip(texts.to_pylist(), presets, opener_counts(texts))]


def _embeddings(records: list, kept: list[int]) -> tuple[list[int], np.ndarray]:
    """The lines among `kept` whose embedding can be scaled, and their unit vectors.
    Same arithmetic as the reference (rules.unit_vector), on the whole batch."""
    flat = chain.from_iterable(records[i].face_embedding for i in kept)
    matrix = np.fromiter(flat, np.float64, count=len(kept) * c.EMBEDDING_SIZE).reshape(len(kept), c.EMBEDDING_SIZE)
    lengths = embedding_lengths(matrix)
    scalable = (lengths > 0) & np.isfinite(lengths)
    return [i for i, ok in zip(kept, scalable) if ok], unit_vectors(matrix[scalable])


def _problem(text: str | None, preset: str | None, preset_detail: str | None, known: Problem | None,
             fields) -> tuple[str, str]:
    if known is not None:
        return known.reason, known.detail
    if preset is not None:
        return preset, preset_detail
    if text is None:
        return c.NOT_UTF8, c.NOT_UTF8_DETAIL
    _, found = check_line(text, fields)
    if found:
        return found.reason, found.detail
    # Good by the reference, but tier 1 refused it: a bug, never a row of guesses.
    return c.CHECK_DISAGREEMENT, c.CHECK_DISAGREEMENT_DETAIL


def _bad_lines(batch: pa.RecordBatch, bad: list[int], fields, known: dict[int, Problem]) -> pa.Table:
    """Quarantine rows of the lines `bad`, with the problem `known` has for a line, else
    the one tier 2 names."""
    rows = pa.array(bad, pa.int64())
    texts = batch.column("text").take(rows).to_pylist()
    shown = batch.column("quarantine_text").take(rows).to_pylist()
    presets = batch.column("preset_reason").take(rows).to_pylist()
    preset_details = batch.column("preset_detail").take(rows).to_pylist()
    found = [known.get(i) for i in bad]
    problems = [_problem(*row, fields) for row in zip(texts, presets, preset_details, found)]
    return quarantine_rows(batch.column("source_file").take(rows), batch.column("line_number").take(rows),
                           problems, [t if t is not None else s for t, s in zip(texts, shown)])


def quarantine_rows(source_file: pa.Array, line_number: pa.Array, problems: list[tuple[str, str]],
                    raw_texts: list[str | None]) -> pa.Table:
    """LINE_COLUMNS rows: (reason, detail) per line, text storable in PostgreSQL."""
    return pa.table({
        "source_file": source_file, "line_number": line_number.cast(pa.int32()),
        "reason": pa.array([p[0] for p in problems], pa.string()),
        "detail": _no_nul(pa.array([p[1] for p in problems], pa.string())),
        "raw_text": _no_nul(pa.array(raw_texts, pa.string())),
    })


def _warning_lines(batch: pa.RecordBatch, warned: list[tuple[int, Problem]]) -> pa.Table:
    if not warned:
        return _empty_lines()
    rows = pa.array([i for i, _ in warned], pa.int64())
    return pa.table({
        "source_file": batch.column("source_file").take(rows), "line_number": batch.column("line_number").take(rows),
        "reason": pa.array([p.reason for _, p in warned], pa.string()),
        "detail": pa.array([p.detail for _, p in warned], pa.string()),
        "raw_text": _no_nul(batch.column("text").take(rows)),
    })


def field_columns(records: list, fields) -> dict[str, pa.Array]:
    """Typed Arrow columns of the contract fields a staged row keeps as they are."""
    # Rows to columns in C (astuple, zip) rather than one getattr per value.
    by_field = zip(*map(msgspec.structs.astuple, records)) if records else ((),) * len(fields)
    columns = {}
    for field, values in zip(fields, by_field):
        if field.kind in (Kind.EMBEDDING, Kind.ALIASES):
            continue
        columns[field.name] = _no_nul(pa.array(values, _ARROW_TYPES.get(field.kind, pa.string())))
    return columns


def passenger_names(columns: dict[str, pa.Array], records: list) -> dict[str, pa.Array]:
    given, surname = normalise_names(columns["given_names"]), normalise_names(columns["surname"])
    return {"given_names_norm": given, "surname_norm": surname, "full_name_norm": join_names(given, surname),
            "place_of_birth_norm": normalise_names(columns["place_of_birth"])}


def watchlist_names(columns: dict[str, pa.Array], records: list) -> dict[str, pa.Array]:
    """Passenger names plus every name and date of birth of the subject (primary first),
    and the aliases as given. Per row in Python: aliases are few."""
    names = passenger_names(columns, records)
    all_names, all_dobs, aliases = [], [], []
    for full_name, record in zip(names["full_name_norm"].to_pylist(), records):
        text, listed = record.aliases or ("[]", [])
        if "\\u0000" in text:
            # jsonb refuses the escape of NUL, which a field the contract does not know may
            # hold (alias names with NUL were quarantined): re-encoded without it.
            text = json.dumps(_without_nul(json.loads(text)), ensure_ascii=False)
        alias_names = [normalise_full_name(a.given_names, a.surname) for a in listed]
        all_names.append([n for n in [full_name, *alias_names] if n])
        all_dobs.append([d for d in [record.date_of_birth, *(a.date_of_birth for a in listed)] if d])
        aliases.append(text)
    return {**names, "all_names_norm": pa.array(all_names, pa.list_(pa.string())),
            "all_dobs": pa.array(all_dobs, pa.list_(pa.date32())), "aliases": _no_nul(pa.array(aliases, pa.string()))}


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _misplaced(batch: pa.RecordBatch, columns: dict[str, pa.Array], good: list[int],
               good_records: list) -> dict[int, Problem]:
    """Good passenger lines whose airport or UTC day is not their file's (a batch holds
    lines of one file); compared on the Arrow columns, named by the reference rule."""
    if not good:
        return {}
    day, airport = file_place(batch.column("source_file")[0].as_py())
    wrong = np.zeros(len(good), dtype=bool)
    if airport is not None:
        wrong |= pc.not_equal(columns["airport"], airport).to_numpy(zero_copy_only=False)
    if day is not None:   # a UTC timestamp's date32 is its UTC date
        days = pc.cast(columns["scanned_at"], pa.date32())
        wrong |= pc.not_equal(days, pa.scalar(day, pa.date32())).to_numpy(zero_copy_only=False)
    found = {}
    for n in np.flatnonzero(wrong).tolist():
        problem = placement_problem(good_records[n].airport, good_records[n].scanned_at, day, airport)
        if problem:
            found[good[n]] = problem
    return found


def _cut_free_text(records: list, good: list[int], fields) -> list[tuple[int, Problem]]:
    """Free text of good lines kept as the warehouse keeps it (validate.free_text), and
    the warnings about it."""
    cut = [f for f in fields if f.cut_beyond_bound]
    warned = []
    for i in good if cut else ():
        record = records[i]
        for f in cut:
            value = getattr(record, f.name)
            if value is not None and (len(value) > f.max_length or "\x00" in value):
                value, warnings = free_text(f, value)
                setattr(record, f.name, value)
                warned += [(i, w) for w in warnings]
    return warned


def finish(batch: pa.RecordBatch, dataset) -> Finished:
    """The batch's good lines as `dataset.staged` rows (a records.Dataset) and its bad
    lines with their problem; every line lands in exactly one of the two."""
    records = _decode(batch, dataset)
    good, vectors = _embeddings(records, [i for i, r in enumerate(records) if r is not None])
    warned = _cut_free_text(records, good, dataset.fields)
    good_records = [records[i] for i in good]
    columns = field_columns(good_records, dataset.fields)
    known = _misplaced(batch, columns, good, good_records) if dataset.placed else {}
    if known:   # rare: the columns again without those lines
        keep = [n for n, i in enumerate(good) if i not in known]
        good, vectors = [good[n] for n in keep], vectors[keep]
        good_records = [records[i] for i in good]
        columns = field_columns(good_records, dataset.fields)
        warned = [(i, w) for i, w in warned if i not in known]
    kept = set(good)
    bad = [i for i in range(batch.num_rows) if i not in kept]
    rows = pa.array(good, pa.int64())
    staged = staged_rows(batch.column("source_file").take(rows), batch.column("line_number").take(rows),
                         columns, vectors, dataset, good_records)
    return Finished(staged, _bad_lines(batch, bad, dataset.fields, known), _warning_lines(batch, warned))


def staged_rows(source_file: pa.Array, source_line: pa.Array, columns: dict[str, pa.Array], vectors: np.ndarray,
                dataset, records: list) -> pa.Table:
    """Good records as `dataset.staged` rows: checked fields `columns` (typed, one value
    per record), names normalised, embeddings at unit length (`vectors`)."""
    columns = {**columns, **dataset.derive(columns, records)}
    offsets = pa.array(np.arange(len(vectors) + 1, dtype=np.int32) * c.EMBEDDING_SIZE)
    columns["face_embedding"] = pa.ListArray.from_arrays(offsets, pa.array(vectors.ravel(), pa.float32()))
    return pa.table({"source_file": source_file, "source_line": source_line.cast(pa.int32()),
                     **{name: columns[name] for name in dataset.staged}})
