"""Candidate pairs: photo nearest neighbours first, OR-ed with name/date-of-birth rules.

Blocking must not rely on names or dates (wanted people change them), so every passenger
is paired with the watchlist entries whose photos are most similar (faiss inner product on
unit vectors = cosine). Exact search while the watchlist is small enough to scan; HNSW
beyond. Name/DOB rules add the easy cases whose photos happen to be poor.

Exact search is a matrix product that BLAS runs near the CPU's peak: 1M passengers against
a 1M-entry watchlist took 19 min on 2 cores, where HNSW (efSearch 512, needed for 99.9%
recall on face embeddings) took 63 min and still missed pairs. HNSW's cost grows with
log(watchlist) and the product's with the watchlist, so HNSW only pays for lists several
times bigger.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb
import numpy as np

from watchlist_screening.linkage import physique_blocks
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST, embeddings, scalar

log = logging.getLogger(__name__)

CANDIDATES = "candidate_pairs"
SPLINK_BLOCKED_PAIRS = "splink_blocked_pairs"
EXACT_SEARCH_MAX_WATCHLIST = 4_000_000
PHOTO_BLOCKINGS = ("auto", "sex", "none")


@dataclass(frozen=True)
class CandidateConfig:
    neighbours: int = 10          # photo neighbours per passenger
    min_similarity: float = 0.3   # below this a neighbour is noise, not a candidate
    hnsw_m: int = 32
    # Random-looking embeddings make a poorly navigable graph: efConstruction 40 / efSearch
    # 128 found 73% of true pairs at 1M × 1M; these find ≥ 99.9% (bench/linkage_eval.py).
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 512
    # A name or (surname, date of birth) listed by more watchlist entries than this says
    # nothing about who a passenger is, and common keys multiply into hundreds of millions
    # of pairs at 1M × 1M; the photo neighbours still cover such people.
    max_entries_per_rule_key: int = 20
    # "none": one search of the whole list; "sex": each sex searched against its own part
    # (physique_blocks.py: half the products, no true pair lost while recorded sex is right,
    # but the model trained on such candidates lost recall at its threshold in four worlds
    # of the 20k grid); "auto": sex from `auto_blocking_products` on, where the exact search
    # is the day's cost (10^11 products: ~4 min on two cores; the full-scale day, 10^12,
    # screened in 14.4 min blocked, recall 0.999, against 0.996 unblocked) and "none" below
    photo_blocking: str = "none"
    auto_blocking_products: float = 1e11

    def __post_init__(self):
        if self.photo_blocking not in PHOTO_BLOCKINGS:
            raise ValueError(f"photo_blocking must be one of {', '.join(PHOTO_BLOCKINGS)}, not {self.photo_blocking!r}")

    def blocking_for(self, passengers: int, watchlist: int) -> str:
        """The blocking a search of `passengers` against `watchlist` entries runs with."""
        if self.photo_blocking != "auto":
            return self.photo_blocking
        return "sex" if passengers * watchlist >= self.auto_blocking_products else "none"


def _photo_index(vectors: np.ndarray, config: CandidateConfig):
    import faiss

    dim = vectors.shape[1]
    if len(vectors) <= EXACT_SEARCH_MAX_WATCHLIST:
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.hnsw_ef_construction
        index.hnsw.efSearch = max(config.hnsw_ef_search, config.neighbours)
    index.add(vectors)
    return index


def photo_neighbours(query: np.ndarray, base: np.ndarray, k: int, config: CandidateConfig):
    """(similarities, indices) of each query row's k most similar base rows."""
    k = min(k, len(base))
    if k == 0 or len(query) == 0:
        return np.empty((len(query), 0), np.float32), np.empty((len(query), 0), np.int64)
    index = _photo_index(base, config)
    return index.search(query, k)


def blocked_photo_neighbours(query: np.ndarray, query_sex, base: np.ndarray, base_sex, k: int,
                             config: CandidateConfig):
    """photo_neighbours within the blocks `config.photo_blocking` names (same index space)."""
    blocking = config.blocking_for(len(query), len(base))
    log.info("photo search: %d passengers × %d watchlist entries, blocking %s (setting %s)",
             len(query), len(base), blocking, config.photo_blocking)
    if blocking == "none":
        return photo_neighbours(query, base, k, config)
    k = min(k, len(base))
    return physique_blocks.blocked_search(query, query_sex, base, base_sex, k,
                                          lambda q, b, kk: photo_neighbours(q, b, kk, config))


def build_candidates(con: duckdb.DuckDBPyConnection, config: CandidateConfig = CandidateConfig()) -> int:
    """Create the `candidate_pairs` table (scan_id, subject_id, photo_similarity, via_photo,
    via_rules) and the blocked-pairs table Splink scores; return the number of pairs."""
    p_ids, p_vecs, p_sex = embeddings(con, PASSENGERS, with_sex=True)
    w_ids, w_vecs, w_sex = embeddings(con, WATCHLIST, with_sex=True)
    sims, idx = blocked_photo_neighbours(p_vecs, p_sex, w_vecs, w_sex, config.neighbours, config)
    keep = (idx >= 0) & (sims >= config.min_similarity)
    rows, cols = np.nonzero(keep)
    import pyarrow as pa

    photo_pairs = pa.table({
        "scan_id": pa.array(np.asarray(p_ids, dtype=object)[rows], pa.string()),
        "subject_id": pa.array(np.asarray(w_ids, dtype=object)[idx[rows, cols]], pa.string()),
    })
    del p_vecs, w_vecs, sims, idx
    con.register("photo_pairs", photo_pairs)
    cap = int(config.max_entries_per_rule_key)
    con.execute(f"""
        CREATE OR REPLACE TABLE {CANDIDATES} AS
        WITH name_keys AS (
            SELECT DISTINCT unique_id, unnest(name_keys) AS name_key FROM {WATCHLIST}
        ),
        dob_keys AS (
            SELECT DISTINCT unique_id, surname_norm, unnest(all_dobs) AS dob FROM {WATCHLIST}
        ),
        rule_pairs AS (
            -- same name under any listed alias (token order ignored), uncommon names only
            SELECT p.unique_id AS scan_id, w.unique_id AS subject_id
            FROM {PASSENGERS} p
            JOIN (SELECT * FROM name_keys
                  QUALIFY count(*) OVER (PARTITION BY name_key) <= {cap}) w
              ON p.name_keys[1] = w.name_key
            UNION
            -- same surname and a listed date of birth, uncommon combinations only
            SELECT p.unique_id, w.unique_id
            FROM {PASSENGERS} p
            JOIN (SELECT * FROM dob_keys
                  QUALIFY count(*) OVER (PARTITION BY surname_norm, dob) <= {cap}) w
              ON p.surname_norm = w.surname_norm AND p.all_dobs[1] = w.dob
        ),
        all_pairs AS (
            SELECT scan_id, subject_id, bool_or(via_photo) AS via_photo, bool_or(via_rules) AS via_rules
            FROM (SELECT scan_id, subject_id, true AS via_photo, false AS via_rules FROM photo_pairs
                  UNION ALL
                  SELECT scan_id, subject_id, false, true FROM rule_pairs)
            GROUP BY scan_id, subject_id
        )
        SELECT a.scan_id, a.subject_id,
               array_cosine_similarity(p.face_embedding, w.face_embedding) AS photo_similarity,
               a.via_photo, a.via_rules
        FROM all_pairs a
        JOIN {PASSENGERS} p ON p.unique_id = a.scan_id
        JOIN {WATCHLIST} w ON w.unique_id = a.subject_id""")
    con.unregister("photo_pairs")
    return blocked_pairs_for_splink(con)


def blocked_pairs_for_splink(con: duckdb.DuckDBPyConnection) -> int:
    """The blocked-pairs table Splink scores, from `candidate_pairs`; the number of pairs.
    Splink joins blocked pairs on '<source_dataset>-__-<unique_id>' keys."""
    con.execute(f"""
        CREATE OR REPLACE TABLE {SPLINK_BLOCKED_PAIRS} AS
        SELECT '0' AS match_key,
               '{PASSENGERS}-__-' || scan_id AS join_key_l,
               '{WATCHLIST}-__-' || subject_id AS join_key_r
        FROM {CANDIDATES}""")
    return scalar(con, f"SELECT count(*) FROM {CANDIDATES}")
