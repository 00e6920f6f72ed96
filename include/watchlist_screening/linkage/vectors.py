"""Comparison vectors as Splink computes them, for any registered tables and pairs.

EM (em.py) counts comparison vectors; Splink defines them. This reads, for every pair
Splink would score, the level each comparison puts it at, without Splink's own training:

- `tables`: one table (dedupe_only) or several (link_only / link_and_dedupe), registered
  in `con` under those names; the model's `link_type` says which.
- the pairs: a blocked-pairs table (`blocked_pairs`, in Splink's
  `register_blocked_pairs_for_predict` format), else `blocking_rules` (block_on(...),
  SQL strings or Splink's rule dicts), else the model's own
  `blocking_rules_to_generate_predictions`.

Splink 5 keeps gamma columns only beside the matching columns (a 128-float embedding
column per side in the watchlist model), so the levels are read back from the match
weight columns instead: placeholder m/u give level g (0 = else level, counting upwards)
a weight of exactly g + 1 bits, and the null level Splink's 0 (gamma -1).
"""
from __future__ import annotations

import duckdb
import numpy as np

from watchlist_screening.linkage.linker import non_null_levels, predictions


def _rule_dict(rule, dialect: str = "duckdb") -> dict:
    if isinstance(rule, str):
        return {"blocking_rule": rule, "sql_dialect": dialect}
    if isinstance(rule, dict):
        return rule
    return rule.create_blocking_rule_dict(dialect)


def coded_model(model: dict, blocking_rules: list | None = None) -> dict:
    """The model with placeholder m/u that make each level's match weight its gamma + 1."""
    coded = {**model, "comparisons": [], "retain_matching_columns": False,
             "retain_intermediate_calculation_columns": True, "probability_two_random_records_match": 0.5}
    if blocking_rules is not None:
        coded["blocking_rules_to_generate_predictions"] = [_rule_dict(r) for r in blocking_rules]
    for c in model["comparisons"]:
        n = len(non_null_levels(c))
        out, g = [], n - 1
        for lvl in c["comparison_levels"]:
            if lvl.get("is_null_level"):
                out.append(lvl)
                continue
            lvl = {k: v for k, v in lvl.items() if not k.startswith("tf_adjustment")}
            out.append({**lvl, "m_probability": 2.0 ** (g - n), "u_probability": 2.0 ** -(n + 1)})
            g -= 1
        coded["comparisons"].append({**c, "comparison_levels": out})
    return coded


def comparison_vectors(con: duckdb.DuckDBPyConnection, model: dict, tables: list[str],
                       blocked_pairs: str | None = None, blocking_rules: list | None = None,
                       ) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """(comparison names, pairs × comparisons gamma matrix, pair ids) of every pair.

    Gamma follows Splink: 0 is the else level, the most similar level is the highest,
    -1 is null. Pair ids: `unique_id_l`, `unique_id_r` and, where Splink keeps them,
    `source_dataset_l`, `source_dataset_r`, row-aligned with the gammas."""
    names = [c["output_column_name"] for c in model["comparisons"]]
    with predictions(con, coded_model(model, blocking_rules), blocked_pairs, tables) as predicted:
        present = {r[0] for r in con.execute(f"DESCRIBE {predicted}").fetchall()}
        ids = [c for c in ("source_dataset_l", "unique_id_l", "source_dataset_r", "unique_id_r") if c in present]
        columns = ", ".join([*ids, *(f"CAST(round(mw_{n}) AS BIGINT) - 1 AS g_{n}" for n in names)])
        arrays = con.sql(f"SELECT {columns} FROM {predicted}").fetchnumpy()
    gammas = (np.column_stack([np.asarray(arrays[f"g_{n}"], dtype=np.int64) for n in names])
              if names else np.zeros((0, 0), dtype=np.int64))
    pair_ids = {c: np.asarray(arrays[c], dtype=object) for c in ids}
    return names, gammas, pair_ids
