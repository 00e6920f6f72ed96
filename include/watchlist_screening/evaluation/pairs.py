"""A day's candidate pairs (linkage/candidates.py's table) seen with the generator's truth:
labels, blocking recall, raw pair features for baselines, and the model's scores lined up
with them. Pairs come back in one fixed order (scan_id, subject_id) so every score array
of a day lines up with the labels.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from watchlist_screening.linkage.candidates import CANDIDATES
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST

# Raw comparisons anyone would compute, with no level boundaries: what a supervised
# baseline may learn from. NULL (a field missing on either side) becomes NaN.
FEATURES = {
    "photo_cosine": "c.photo_similarity",
    "height_diff_cm": "abs(p.height_cm - w.height_cm)",
    "sex_equal": "(p.sex = w.sex)::DOUBLE",
    "eye_colour_equal": "(p.eye_colour = w.eye_colour)::DOUBLE",
    "name_similarity": "list_max(list_transform(w.name_keys, lambda k: jaro_winkler_similarity(p.name_keys[1], k)))",
    "surname_similarity": "jaro_winkler_similarity(p.surname_norm, w.surname_norm)",
    "dob_diff_days": "list_min(list_transform(w.all_dobs, lambda d: abs(date_diff('day', d, p.all_dobs[1]))))::DOUBLE",
    "place_of_birth_equal": "(p.place_of_birth_norm = w.place_of_birth_norm)::DOUBLE",
    "nationality_equal": "(p.nationality = w.nationality)::DOUBLE",
}


@dataclass
class LabelledPairs:
    scan_id: list[str]
    subject_id: list[str]
    is_match: np.ndarray  # bool
    sighting: np.ndarray  # index into `sightings` for true pairs, -1 otherwise
    sightings: list[str]  # the day's sighting scan_ids (from the truth, blocked or not)
    true_pairs: int  # in the truth, blocked or not
    features: np.ndarray  # (pairs, len(FEATURES)) float, NaN where missing
    feature_names: list[str] = field(default_factory=lambda: list(FEATURES))

    @property
    def photo_cosine(self) -> np.ndarray:
        return self.features[:, self.feature_names.index("photo_cosine")]

    def __len__(self) -> int:
        return len(self.scan_id)


def labelled_candidates(con: duckdb.DuckDBPyConnection, truth: dict[str, set[str]]) -> LabelledPairs:
    """Every candidate pair with its label, its sighting and its raw features."""
    columns = ", ".join(f"{sql} AS {name}" for name, sql in FEATURES.items())
    arrow = con.sql(f"""
        SELECT c.scan_id, c.subject_id, {columns}
        FROM {CANDIDATES} c
        JOIN {PASSENGERS} p ON p.unique_id = c.scan_id
        JOIN {WATCHLIST} w ON w.unique_id = c.subject_id
        ORDER BY c.scan_id, c.subject_id""").to_arrow_table()
    scan_ids = arrow.column("scan_id").to_pylist()
    subject_ids = arrow.column("subject_id").to_pylist()
    sightings = sorted(truth)
    index = {s: i for i, s in enumerate(sightings)}
    is_match = np.array([w in truth.get(s, ()) for s, w in zip(scan_ids, subject_ids)], dtype=bool)
    sighting = np.array([index[s] if m else -1 for s, m in zip(scan_ids, is_match.tolist())],
                        dtype=np.int64)
    features = np.column_stack([
        arrow.column(name).to_numpy(zero_copy_only=False).astype(float) for name in FEATURES
    ]) if len(scan_ids) else np.zeros((0, len(FEATURES)))
    return LabelledPairs(scan_ids, subject_ids, is_match, sighting, sightings,
                         sum(len(ws) for ws in truth.values()), features)


def blocking(pairs: LabelledPairs) -> dict:
    """How much of the truth the candidates hold: sightings with at least one true pair,
    and true pairs (a person listed twice makes two)."""
    found = len(np.unique(pairs.sighting[pairs.is_match]))
    return {"blocking_recall": round(found / max(len(pairs.sightings), 1), 4),
            "blocking_pair_recall": round(int(pairs.is_match.sum()) / max(pairs.true_pairs, 1), 4),
            "candidate_pairs": len(pairs)}


def aligned_scores(pairs: LabelledPairs, rows: list[tuple[str, str, float]]) -> np.ndarray:
    """Scores given as (scan_id, subject_id, score) rows, in the pairs' order; NaN for a
    candidate pair the rows do not score."""
    by_pair = {(s, w): v for s, w, v in rows}
    return np.array([by_pair.get(p, np.nan) for p in zip(pairs.scan_id, pairs.subject_id)],
                    dtype=float)


def decoy_kinds(landing: Path, day: str) -> dict[tuple[str, str], str]:
    """(scan_id, subject_id) -> "namesake" / "look_alike" from the generator's decoy truth.
    A decoy resembles the person, so it is one for each of that person's listings."""
    truth = landing / "truth"
    listings: dict[str, list[str]] = {}
    person_of: dict[str, str] = {}
    persons = truth / "watchlist_persons.jsonl"
    if persons.exists():
        for line in persons.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                person_of[r["subject_id"]] = r["person_id"]
                listings.setdefault(r["person_id"], []).append(r["subject_id"])
    out: dict[tuple[str, str], str] = {}
    path = truth / f"{day}.decoys.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                for subject in listings.get(person_of.get(r["subject_id"]), [r["subject_id"]]):
                    out.setdefault((r["scan_id"], subject), r["kind"])
    return out
