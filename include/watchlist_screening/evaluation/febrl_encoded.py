"""FEBRL4 linked on CLKs only: the privacy-preserving mode's quality check (issue 17).

Every FEBRL4 field is encoded as a per-field keyed Bloom filter (clkhash's hashing, the
same hardening as the encoded landing zone: keyed per-record bit flips), the clear
columns are dropped, and the link is found through the project's own FEBRL path
(febrl.py: the project's EM over Splink's comparison vectors, Splink's predict at 0.5),
with the clear levels replaced by Dice levels computed in DuckDB SQL on BIT columns:
Dice = 2·bit_count(a & b) / (bit_count(a) + bit_count(b)), no Python per pair.

- Blocking: one rule, Dice of the record's concatenated field CLKs ≥ `block_dice`.
  Concatenating (not OR-ing) keeps each field's bits apart, so the record Dice is the
  fields' Dice weighted by their bit counts; unrelated records score ~0.15, true pairs
  ~0.7 and more. The rule is a non-equi join (all 25M pairs scanned by DuckDB), so it
  reads every 10th bit of the 10,240 (a Dice estimate on 1,024 bits: 84 s → ~9 s a scan).
- Levels per field: null, Dice ≥ 0.85 (the same value under the flips), ≥ 0.7, ≥ 0.55,
  else; given name ↔ surname and address_1 ↔ address_2 crossed at ≥ 0.85, as the clear
  model has them (FEBRL's generator swaps those fields).
- The anchor beside it: anonlink's plain Dice threshold (0.8) with its greedy solver, on
  the same concatenated CLKs.

    python -m watchlist_screening.evaluation.febrl_encoded
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from watchlist_screening.evaluation import febrl
from watchlist_screening.privacy.clk import ClkEncoder
from watchlist_screening.privacy.dice import dice_sql
from watchlist_screening.privacy.linkage_schema import LinkageSchema, current, from_dict

RECORD = "record_bits"
BLOCK = "block_bits"
LEVELS = (0.85, 0.7, 0.55)
CROSSED = {"given_name": "surname", "surname": "given_name", "address_1": "address_2", "address_2": "address_1"}
_BIGRAM = {"type": "ngram", "n": 2, "positional": False}
_DIGITS = {"type": "ngram", "n": 1, "positional": True}
# (field, tokens, bits per token): digits by position (a typo changes one token, a near
# date most of one), text by bigrams, as clkhash's own FEBRL examples do
FIELDS = (("given_name", _BIGRAM, 20), ("surname", _BIGRAM, 20), ("street_number", _BIGRAM, 30),
          ("address_1", _BIGRAM, 15), ("address_2", _BIGRAM, 15), ("suburb", _BIGRAM, 20),
          ("postcode", _DIGITS, 30), ("state", _BIGRAM, 30), ("date_of_birth", _DIGITS, 30),
          ("soc_sec_id", _DIGITS, 30))


def linkage_schema(flip_probability: float) -> LinkageSchema:
    """The FEBRL fields in the project's linkage-schema format, with its CLK settings
    (length, KDF) and the given flip probability (0: no hardening)."""
    base = current().raw
    features = [{"identifier": name, "format": {"type": "string", "encoding": "utf-8"},
                 "hashing": {"comparison": tokens, "strategy": {"bitsPerToken": bits}, "hash": {"type": "blakeHash"}}}
                for name, tokens, bits in FIELDS]
    return from_dict({**base, "clk": {**base["clk"], "features": features},
                      "hardening": {"method": "blip", "flip_probability": flip_probability}}, "FEBRL schema")


@dataclass(frozen=True)
class EncodedFebrlConfig:
    flip_probability: float = current().hardening.flip_probability
    block_dice: float = 0.4
    anchor_threshold: float = 0.8
    febrl: febrl.FebrlConfig = febrl.FebrlConfig()


def encode_tables(con: duckdb.DuckDBPyConnection, encoder: ClkEncoder) -> dict:
    """Replace febrl_a/febrl_b by their encoded form: unique_id, entity (truth, used only
    to score), one BIT column per field (NULL when absent) and the record's concatenated
    CLKs. Returns {table: (records, seconds)} of the encoding."""
    width = encoder.bits // 8
    timings = {}
    for table in (febrl.LEFT, febrl.RIGHT):
        rows = con.execute(f"SELECT unique_id, entity, {', '.join(febrl.COLUMNS)} FROM {table}").fetchall()
        start = time.perf_counter()
        columns: dict[str, list] = {"unique_id": [], "entity": [], **{c: [] for c in febrl.COLUMNS}, RECORD: [],
                                 BLOCK: []}
        for unique_id, entity, *values in rows:
            columns["unique_id"].append(unique_id)
            columns["entity"].append(entity)
            record = []
            for name, value in zip(febrl.COLUMNS, values):
                bits = None if value is None else encoder.harden(encoder.bloom_filter(name, value.lower()),
                                                                 unique_id, name)
                columns[name].append(bits)
                record.append(bits or bytes(width))
            columns[RECORD].append(b"".join(record))
            columns[BLOCK].append(np.packbits(np.unpackbits(np.frombuffer(columns[RECORD][-1], np.uint8))[::10])
                                  .tobytes())
        timings[table] = (len(rows), time.perf_counter() - start)
        arrow = pa.table({k: pa.array(v, type=pa.string() if k in ("unique_id", "entity") else pa.binary())
                          for k, v in columns.items()})
        con.register("encoded_arrow", arrow)
        bits = ", ".join(f"CAST({c} AS BIT) AS {c}" for c in (*febrl.COLUMNS, RECORD, BLOCK))
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT unique_id, entity, {bits} FROM encoded_arrow")
        con.unregister("encoded_arrow")
    return timings


def _dice_comparison(column: str):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    left, right = f'"{column}_l"', f'"{column}_r"'
    levels = [cll.NullLevel(column),
              cll.CustomLevel(f"{dice_sql(left, right)} >= {LEVELS[0]}", f"Dice >= {LEVELS[0]}")]
    if column in CROSSED:
        partner = CROSSED[column]
        crossed = (f'{dice_sql(left, f"{chr(34)}{partner}_r{chr(34)}")} >= {LEVELS[0]} OR '
                   f'{dice_sql(f"{chr(34)}{partner}_l{chr(34)}", right)} >= {LEVELS[0]}')
        levels.append(cll.CustomLevel(f"({crossed})", f"crossed with {partner}: Dice >= {LEVELS[0]}"))
    levels += [cll.CustomLevel(f"{dice_sql(left, right)} >= {t}", f"Dice >= {t}") for t in LEVELS[1:]]
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(output_column_name=column, comparison_levels=levels)


def model_dict(block_dice: float) -> dict:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[_dice_comparison(c) for c in febrl.COLUMNS],
        blocking_rules_to_generate_predictions=[f"{dice_sql(f'l.{BLOCK}', f'r.{BLOCK}')} >= {block_dice}"],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    ).get_settings("duckdb").as_dict()


def anchor(con: duckdb.DuckDBPyConnection, threshold: float) -> dict:
    """anonlink's plain Dice threshold with its greedy one-to-one solver, on the records'
    concatenated CLKs."""
    import anonlink
    from bitarray import bitarray

    start = time.perf_counter()
    datasets, ids = [], []
    for table in (febrl.LEFT, febrl.RIGHT):
        rows = con.execute(f"SELECT unique_id, CAST({RECORD} AS BLOB) FROM {table} ORDER BY unique_id").fetchall()
        ids.append([r[0] for r in rows])
        filters = []
        for _, blob in rows:
            bits = bitarray(endian="big")
            bits.frombytes(bytes(blob))
            filters.append(bits)
        datasets.append(filters)
    candidates = anonlink.candidate_generation.find_candidate_pairs(
        datasets, anonlink.similarities.dice_coefficient_accelerated, threshold)
    groups = anonlink.solving.greedy_solve(candidates)
    predicted = set()
    for group in groups:
        members = dict(group)
        if 0 in members and 1 in members:
            predicted.add((ids[0][members[0]], ids[1][members[1]]))
    return {**febrl._prf(predicted, febrl.true_pairs(con)), "threshold": threshold,
            "seconds": round(time.perf_counter() - start, 2)}


@dataclass(frozen=True)
class EncodedFebrlResult:
    true_links: int
    predicted_links: int
    correct_links: int
    precision: float
    recall: float
    f1: float
    seconds: float
    flip_probability: float
    blocked_pairs: int
    true_pairs_blocked: int
    encoding_records_per_second: float
    anchor: dict
    notes: dict = field(default_factory=dict)


def evaluate(config: EncodedFebrlConfig = EncodedFebrlConfig(), secret: bytes | None = None) -> EncodedFebrlResult:
    """Encode FEBRL4 under a fresh key, train and link on CLKs; precision/recall/F1
    against the known links, and anonlink's threshold anchor on the same CLKs."""
    start = time.perf_counter()
    encoder = ClkEncoder(linkage_schema(config.flip_probability), secret or os.urandom(32))
    con = duckdb.connect()
    febrl.load(con)
    timings = encode_tables(con, encoder)
    records = sum(n for n, _ in timings.values())
    encoding_rate = records / sum(s for _, s in timings.values())
    tables = [febrl.LEFT, febrl.RIGHT]
    model = model_dict(config.block_dice)
    truth = febrl.true_pairs(con)
    block = dice_sql(f"a.{BLOCK}", f"b.{BLOCK}")
    blocked = con.execute(f"SELECT count(*), count(*) FILTER (WHERE a.entity = b.entity) "
                          f"FROM {febrl.LEFT} a, {febrl.RIGHT} b WHERE {block} >= {config.block_dice}").fetchall()[0]
    trained, notes = febrl.train(con, tables, "link_only", config.febrl, model=model)
    rows = febrl.predict(con, trained, tables, config.febrl.threshold)
    if config.febrl.one_to_one:
        rows = febrl._one_to_one(rows)
    scores = febrl._prf({(a, b) for a, b, _, _ in rows}, truth)
    result = EncodedFebrlResult(**scores, seconds=round(time.perf_counter() - start, 2),
                                flip_probability=config.flip_probability, blocked_pairs=int(blocked[0]),
                                true_pairs_blocked=int(blocked[1]),
                                encoding_records_per_second=round(encoding_rate, 1),
                                anchor=anchor(con, config.anchor_threshold), notes=notes)
    con.close()
    return result


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(asdict(evaluate()), indent=2, default=str))
