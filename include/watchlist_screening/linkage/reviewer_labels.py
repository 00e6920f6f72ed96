"""Reviewer labels in training: m from confirmed pairs, and a threshold both decisions agree on.

Reviewers confirm alerts or reject them as false positives (alerts/labels.py). Confirmed
pairs are true matches, so Splink's `estimate_m_from_pairwise_labels` can replace the
stated priors of the identity comparisons (how wanted people disguise their name, date and
place of birth) with what they actually did. Only pairs that were alerted get reviewed,
which biases m towards what the model already found, so the estimate is shrunk towards the
prior and physical comparisons (estimated from duplicate listings) are left alone.

Both decisions then calibrate a threshold: the highest one that keeps every confirmed pair
(with a margin) and so drops as many labelled false positives as it can. It is
a recommendation recorded in the model notes and report, not applied silently.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from watchlist_screening.alerts.labels import MATCH, NON_MATCH, latest_decisions
from watchlist_screening.linkage.comparisons import IDENTITY
from watchlist_screening.linkage import linker as splink_linker
from watchlist_screening.linkage import tables
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST

LABELS = "reviewer_labels"
LABEL_BLOCKED_PAIRS = "reviewer_label_blocked_pairs"
# Comparisons whose m is a stated prior of disguise behaviour, learnable only from labels.
# Not height: alerts are selected on physique, so confirmed pairs under-represent larger
# measured differences (at scale a, labels on height cost a sighting; without it they
# cost nothing and cut false alerts at thresholds below 0.3).
LABELLED_COMPARISONS = ("names", "date_of_birth", "place_of_birth", "nationality", IDENTITY)
# Labelled records as tables.load_arrow expects them; reviews span many days, so by id.
_LABELLED_PASSENGERS_SQL = """
SELECT DISTINCT ON (scan_id) scan_id AS unique_id, surname_norm, full_name_norm, date_of_birth,
       place_of_birth_norm, nationality, sex, height_cm, eye_colour, face_embedding
FROM warehouse.passengers WHERE scan_id = ANY(%s) ORDER BY scan_id, scan_day DESC"""
_LABELLED_WATCHLIST_SQL = """
SELECT subject_id AS unique_id, surname_norm, all_names_norm, all_dobs,
       place_of_birth_norm, nationality, sex, height_cm, eye_colour, face_embedding
FROM warehouse.watchlist WHERE version_id = %s AND subject_id = ANY(%s)"""
_COMMON = [("place_of_birth_norm", pa.string()), ("nationality", pa.string()), ("sex", pa.string()),
           ("height_cm", pa.float64()), ("eye_colour", pa.string()), ("face_embedding", pa.list_(pa.float32()))]
_PASSENGER_SCHEMA = pa.schema([("unique_id", pa.string()), ("surname_norm", pa.string()),
                               ("full_name_norm", pa.string()), ("date_of_birth", pa.date32()), *_COMMON])
_WATCHLIST_SCHEMA = pa.schema([("unique_id", pa.string()), ("surname_norm", pa.string()),
                               ("all_names_norm", pa.list_(pa.string())), ("all_dobs", pa.list_(pa.date32())),
                               *_COMMON])
THRESHOLD_GRID = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class LabelConfig:
    # The prior counts as this many confirmed pairs: a handful of labels nudges m, hundreds decide it.
    prior_pseudo_pairs: float = 20.0
    min_confirmed: int = 5
    # Keep this share of confirmed pairs at or above the recommended threshold...
    target_recall: float = 1.0
    # ...with this many bits of match weight to spare below the weakest one kept: the next
    # sighting is not one of the labelled ones.
    margin_bits: float = 1.0


def decisions(labels: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], bool]:
    """(scan_id, subject_id) -> is a match, from each pair's latest decision; pairs whose
    latest decision says nothing yet (needs_info) are left out."""
    return {pair: d == MATCH for pair, d in latest_decisions(labels).items() if d in (MATCH, NON_MATCH)}


def fingerprint(labels: Iterable[Mapping[str, Any]] | None) -> str | None:
    """Identifies a set of decisions, so a model knows whether it has seen them."""
    if not labels:
        return None
    decided = sorted((s, w, m) for (s, w), m in decisions(labels).items())
    return hashlib.sha256(json.dumps(decided).encode()).hexdigest()[:16] if decided else None


def load_labelled_records(dsn: str, labels: Iterable[Mapping[str, Any]], watchlist_version: int) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose `passengers`/`watchlist` tables hold the labelled pairs'
    records (passengers of any day, the given watchlist version), shaped as for scoring."""
    import psycopg

    pairs = list(decisions(labels))
    scan_ids = sorted({s for s, _ in pairs})
    subject_ids = sorted({w for _, w in pairs})
    with psycopg.connect(dsn) as conn:
        passengers = conn.execute(_LABELLED_PASSENGERS_SQL, (scan_ids,)).fetchall()
        watchlist = conn.execute(_LABELLED_WATCHLIST_SQL, (watchlist_version, subject_ids)).fetchall()
    con = duckdb.connect()
    tables.load_arrow(con, _arrow(passengers, _PASSENGER_SCHEMA), _arrow(watchlist, _WATCHLIST_SCHEMA))
    return con


def _arrow(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows)) if rows else [[] for _ in schema]
    return pa.table([pa.array([None if v is None else (float(v) if t == pa.float64() else v) for v in col], t)
                     for col, t in zip(columns, schema.types)], schema=schema)


def _register_pairs(con: duckdb.DuckDBPyConnection, decided: dict[tuple[str, str], bool]) -> int:
    """Tables of the labelled pairs whose records are loaded: Splink's label format and
    blocked pairs to score them; return how many there are."""
    con.register("label_arrow", pa.table({
        "scan_id": pa.array([p[0] for p in decided], pa.string()),
        "subject_id": pa.array([p[1] for p in decided], pa.string()),
        "is_match": pa.array(list(decided.values()), pa.bool_()),
    }))
    con.execute(f"""
        CREATE OR REPLACE TABLE {LABELS} AS
        SELECT '{PASSENGERS}' AS source_dataset_l, l.scan_id AS unique_id_l,
               '{WATCHLIST}' AS source_dataset_r, l.subject_id AS unique_id_r, l.is_match
        FROM label_arrow l
        JOIN {PASSENGERS} p ON p.unique_id = l.scan_id JOIN {WATCHLIST} w ON w.unique_id = l.subject_id""")
    con.unregister("label_arrow")
    con.execute(f"""
        CREATE OR REPLACE TABLE {LABEL_BLOCKED_PAIRS} AS
        SELECT '0' AS match_key, '{PASSENGERS}-__-' || unique_id_l AS join_key_l,
               '{WATCHLIST}-__-' || unique_id_r AS join_key_r
        FROM {LABELS}""")
    return con.execute(f"SELECT count(*) FROM {LABELS}").fetchall()[0][0]


def label_probabilities(con: duckdb.DuckDBPyConnection, model: dict) -> list[tuple[float, bool]]:
    """(match probability under `model`, is a match) of every registered labelled pair."""
    with splink_linker.predictions(con, model, LABEL_BLOCKED_PAIRS) as predictions:
        rows = con.execute(f"""
            SELECT pr.match_probability, l.is_match FROM {predictions} pr
            JOIN {LABELS} l ON l.unique_id_l = CASE WHEN pr.source_dataset_l = '{PASSENGERS}' THEN pr.unique_id_l ELSE pr.unique_id_r END
                           AND l.unique_id_r = CASE WHEN pr.source_dataset_l = '{PASSENGERS}' THEN pr.unique_id_r ELSE pr.unique_id_l END
            """).fetchall()
    return [(float(p), bool(m)) for p, m in rows]


def estimate_m(con: duckdb.DuckDBPyConnection, model: dict, confirmed: int, config: LabelConfig) -> tuple[dict, dict]:
    """`model` with m of LABELLED_COMPARISONS from the confirmed pairs (Splink), shrunk
    towards the model's own m; and the before/after values."""
    linker, db_api = splink_linker.duckdb_linker(con, model)
    con.execute(f"CREATE OR REPLACE TABLE {LABELS}_confirmed AS SELECT * EXCLUDE (is_match) FROM {LABELS} WHERE is_match")
    linker.training.estimate_m_from_pairwise_labels(db_api.register(f"{LABELS}_confirmed"))
    estimated = {c["output_column_name"]: c for c in linker.misc.save_model_to_json()["comparisons"]}
    out = copy.deepcopy(model)
    changes = {}
    weight = confirmed / (confirmed + config.prior_pseudo_pairs)
    for comparison in out["comparisons"]:
        name = comparison["output_column_name"]
        if name not in LABELLED_COMPARISONS:
            continue
        levels, from_labels = splink_linker.non_null_levels(comparison), splink_linker.non_null_levels(estimated[name])
        raw = [lvl.get("m_probability") for lvl in from_labels]
        if any(v is None for v in raw):
            # a level no confirmed pair fell in: Splink leaves it unestimated, which is a 0
            raw = [v or 0.0 for v in raw]
        total = sum(raw)
        if total <= 0:
            continue
        before = [lvl["m_probability"] for lvl in levels]
        # shrunk towards what the model held before (a stated prior or the day's estimate)
        after = [weight * r / total + (1 - weight) * p for r, p in zip(raw, before)]
        for level, value in zip(levels, after):
            level["m_probability"] = value
        changes[name] = {"before": before, "from_labels": [r / total for r in raw], "after": after}
    return out, changes


def _outcome(scored: list[tuple[float, bool]], threshold: float) -> dict:
    kept = [m for p, m in scored if p >= threshold]
    confirmed = sum(m for _, m in scored)
    return {"threshold": threshold, "confirmed_kept": sum(kept), "confirmed": confirmed,
            "recall_on_confirmed": round(sum(kept) / confirmed, 4) if confirmed else None,
            "false_positives_kept": len(kept) - sum(kept),
            "false_positives": len(scored) - confirmed}


def recommend_threshold(scored: list[tuple[float, bool]], config: LabelConfig) -> float | None:
    """The highest grid threshold that keeps `target_recall` of the confirmed pairs with
    `margin_bits` to spare; None without confirmed pairs."""
    confirmed = sorted(p for p, m in scored if m)
    if not confirmed:
        return None
    weakest = confirmed[int(math.floor((1 - config.target_recall) * len(confirmed)))]
    weakest = min(max(weakest, 1e-12), 1 - 1e-12)
    odds = weakest / (1 - weakest) / 2 ** config.margin_bits
    ceiling = odds / (1 + odds)
    fitting = [t for t in THRESHOLD_GRID if t <= ceiling]
    return max(fitting) if fitting else min(THRESHOLD_GRID)


def apply_labels(con: duckdb.DuckDBPyConnection, model: dict, labels: Iterable[Mapping[str, Any]],
                 threshold: float, config: LabelConfig = LabelConfig()) -> tuple[dict, dict]:
    """Refine `model` with reviewer labels whose records are loaded in `con` (tables
    `passengers` and `watchlist`); return (model, notes with the before/after effect on the
    labelled pairs at `threshold` and at the recommended threshold)."""
    labels = list(labels)
    decided = decisions(labels)
    usable = _register_pairs(con, decided) if decided else 0
    confirmed = con.execute(f"SELECT count(*) FILTER (WHERE is_match) FROM {LABELS}").fetchall()[0][0] if usable else 0
    notes: dict = {"source": "reviewer labels (alerting service reviews, latest decision per pair)",
                   "fingerprint": fingerprint(labels), "decided_pairs": len(decided),
                   "pairs_with_records": usable, "confirmed": confirmed, "false_positive": usable - confirmed}
    if confirmed < config.min_confirmed:
        notes["m"] = f"unchanged: {confirmed} confirmed pairs, {config.min_confirmed} needed"
        if usable:
            scored = label_probabilities(con, model)
            notes["at_threshold"] = _outcome(scored, threshold)
        return model, notes
    before = label_probabilities(con, model)
    refined, changes = estimate_m(con, model, confirmed, config)
    after = label_probabilities(con, refined)
    recommended = recommend_threshold(after, config)
    notes.update({
        "m": {"method": "Splink estimate_m_from_pairwise_labels on confirmed pairs, shrunk towards the prior",
              "prior_pseudo_pairs": config.prior_pseudo_pairs, "comparisons": changes},
        "before": _outcome(before, threshold),
        "after": _outcome(after, threshold),
        "recommended_threshold": recommended,
        "at_recommended_threshold": _outcome(after, recommended) if recommended is not None else None,
        "calibration": f"highest of {list(THRESHOLD_GRID)} keeping {config.target_recall:.0%} of confirmed pairs "
                       f"with {config.margin_bits:g} bit(s) of match weight to spare",
    })
    return refined, notes
