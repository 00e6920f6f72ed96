"""Group the day's sightings: which passengers and watchlist entries are one person.

Three kinds of edges, all scored by the same Splink model:

- passenger–watchlist: the day's matches (scoring.py's `matches` table);
- watchlist–watchlist: one person listed twice by two agencies (other aliases, another
  photo and height measurement). Candidates are photo neighbours within the watchlist;
  the model scores them exactly as it scores a passenger against an entry (all names and
  dates of both entries take part);
- passenger–passenger: two passports of one person the same day. Candidates are the
  photo neighbours of the alerted passengers among all the day's passengers.

Two ways to turn edges into groups, chosen by `GroupingConfig.method`:

- "components": Splink's connected components (what scoring.py uses). One strong chain
  joins everything on it: a look-alike edge can merge two people.
- "cliques": maximal cliques (networkx), every member linked to every other. Each node
  goes to its largest clique (ties: the higher mean match weight), so groups partition
  the nodes; a chain a–b–c without a–c becomes {a, b} and {c}.

How well a grouping matches the generator's truth is measured apart, in
evaluation/grouping_truth.py: production code carries no truth.

Node ids follow Splink: "<source_dataset>-__-<unique_id>" (passengers / watchlist).
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from itertools import combinations
from typing import Iterable

import duckdb
import numpy as np

from watchlist_screening.linkage import linker as splink_linker
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST, embeddings
from watchlist_screening.linkage.scoring import MATCHES

log = logging.getLogger(__name__)

METHODS = ("components", "cliques")
GROUP_EDGES = "group_edges"
GROUPS = "groups"
_SEP = "-__-"
# query × base products up to this size use exact (flat) search; beyond, the HNSW index
# that candidates.py uses for large watchlists
_EXACT_SEARCH_MAX_PRODUCT = 5e10


@dataclass(frozen=True)
class GroupingConfig:
    method: str = "components"            # "components" | "cliques"
    threshold: float = 0.5                # match probability an edge needs
    watchlist_links: bool = True          # watchlist–watchlist duplicate edges
    passenger_links: bool = True          # passenger–passenger same-day edges
    # "matched": duplicates of the entries in today's matches only (cheap, what a day
    # needs); "all": deduplicate the whole watchlist
    watchlist_scope: str = "matched"
    neighbours: int = 5                   # photo neighbours per query record
    min_similarity: float = 0.5           # photo cosine below which no edge is scored
    # λ for within-list pairs; None keeps the model's (passenger × watchlist) prior
    within_list_prior: float | None = None

    @classmethod
    def from_settings(cls, settings, **overrides) -> "GroupingConfig":
        """The pipeline's choices (WATCHLIST_GROUPING_METHOD, WATCHLIST_GROUPING_SCOPE, an
        explicitly set WATCHLIST_MATCH_THRESHOLD; pipeline_settings.Settings), then
        `overrides`; what neither sets keeps the defaults."""
        values = {"method": settings.grouping_method, "watchlist_scope": settings.grouping_scope,
                  "threshold": settings.match_threshold_set}
        return cls(**{k: v for k, v in {**values, **overrides}.items() if v is not None})

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"grouping method must be one of {METHODS}, not {self.method!r}")
        if self.watchlist_scope not in ("matched", "all"):
            raise ValueError("watchlist_scope must be 'matched' or 'all'")


def node_id(source_dataset: str, unique_id: str) -> str:
    return f"{source_dataset}{_SEP}{unique_id}"


def split_node_id(node: str) -> tuple[str, str]:
    source, _, uid = node.partition(_SEP)
    return source, uid


# ----------------------------------------------------------------------------- edges

def _neighbour_pairs(query_ids: list[str], query: np.ndarray, base_ids: list[str], base: np.ndarray,
                     k: int, min_similarity: float) -> list[tuple[str, str, float]]:
    """(query id, base id, cosine) of each query row's k nearest base rows, itself excluded,
    each unordered pair once."""
    import faiss

    if not len(query) or not len(base):
        return []
    k = min(k + 1, len(base))  # +1: a record finds itself
    if len(query) * len(base) <= _EXACT_SEARCH_MAX_PRODUCT:
        index = faiss.IndexFlatIP(base.shape[1])
        index.add(base)
        sims, idx = index.search(query, k)
    else:
        from watchlist_screening.linkage.candidates import CandidateConfig, photo_neighbours

        sims, idx = photo_neighbours(query, base, k, CandidateConfig())
    pairs = {}
    for qi, (row_s, row_j) in enumerate(zip(sims, idx)):
        for s, j in zip(row_s, row_j):
            if j < 0 or s < min_similarity or base_ids[j] == query_ids[qi]:
                continue
            a, b = sorted((query_ids[qi], base_ids[j]))
            pairs[(a, b)] = float(s)
    return [(a, b, s) for (a, b), s in pairs.items()]


def _rows(con: duckdb.DuckDBPyConnection, table: str, ids: Iterable[str] | None):
    all_ids, vecs = embeddings(con, table)
    if ids is None:
        return all_ids, vecs, all_ids, vecs
    wanted = set(ids)
    keep = [i for i, x in enumerate(all_ids) if x in wanted]
    return [all_ids[i] for i in keep], vecs[keep], all_ids, vecs


def score_within(con: duckdb.DuckDBPyConnection, model: dict, table: str, pairs: list[tuple[str, str, float]],
                 prior: float | None = None) -> list[tuple[str, str, float, float, float]]:
    """Score pairs of records of one table (both ids in `table`) with the model:
    [(id_a, id_b, match_probability, match_weight, photo cosine)]."""
    if not pairs:
        return []
    left, right, blocked = f"{table}_grp_l", f"{table}_grp_r", f"{table}_grp_blocked"
    con.execute(f"CREATE OR REPLACE VIEW {left} AS SELECT * FROM {table}")
    con.execute(f"CREATE OR REPLACE VIEW {right} AS SELECT * FROM {table}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {blocked} (match_key VARCHAR, join_key_l VARCHAR, join_key_r VARCHAR)")
    con.executemany(f"INSERT INTO {blocked} VALUES ('0', ?, ?)",
                    [(node_id(left, a), node_id(right, b)) for a, b, _ in pairs])
    model = copy.deepcopy(model)
    if prior is not None:
        model["probability_two_random_records_match"] = prior
    model["retain_matching_columns"] = False
    with splink_linker.predictions(con, model, blocked, tables=(left, right)) as predictions:
        scored = con.execute(f"""
            SELECT CASE WHEN source_dataset_l = '{left}' THEN unique_id_l ELSE unique_id_r END,
                   CASE WHEN source_dataset_l = '{left}' THEN unique_id_r ELSE unique_id_l END,
                   match_probability, match_weight
            FROM {predictions}""").fetchall()
    sims = {(a, b): s for a, b, s in pairs}
    return [(a, b, p, w, sims.get((a, b), sims.get((b, a)))) for a, b, p, w in scored]


def build_edges(con: duckdb.DuckDBPyConnection, model: dict, config: GroupingConfig = GroupingConfig(),
                matches_table: str = MATCHES) -> dict[str, int]:
    """Create `group_edges` (node_id_l, node_id_r, kind, match_probability, match_weight,
    photo_similarity): the day's matches plus the within-list edges the config asks for,
    all at or above the threshold. Return the number of edges per kind."""
    con.execute(f"""
        CREATE OR REPLACE TABLE {GROUP_EDGES} AS
        SELECT '{PASSENGERS}{_SEP}' || scan_id AS node_id_l, '{WATCHLIST}{_SEP}' || subject_id AS node_id_r,
               'passenger-watchlist' AS kind, match_probability, match_weight, photo_similarity::DOUBLE AS photo_similarity
        FROM {matches_table} WHERE match_probability >= {config.threshold}""")
    matched_subjects = [r[0] for r in con.execute(f"SELECT DISTINCT subject_id FROM {matches_table}").fetchall()]
    matched_scans = [r[0] for r in con.execute(f"SELECT DISTINCT scan_id FROM {matches_table}").fetchall()]
    extra = []
    if config.watchlist_links and (matched_subjects or config.watchlist_scope == "all"):
        q_ids, q, b_ids, b = _rows(con, WATCHLIST, None if config.watchlist_scope == "all" else matched_subjects)
        pairs = _neighbour_pairs(q_ids, q, b_ids, b, config.neighbours, config.min_similarity)
        extra += [(WATCHLIST, r) for r in score_within(con, model, WATCHLIST, pairs, config.within_list_prior)]
    if config.passenger_links and matched_scans:
        q_ids, q, b_ids, b = _rows(con, PASSENGERS, matched_scans)
        pairs = _neighbour_pairs(q_ids, q, b_ids, b, config.neighbours, config.min_similarity)
        extra += [(PASSENGERS, r) for r in score_within(con, model, PASSENGERS, pairs, config.within_list_prior)]
    kept = [(node_id(src, a), node_id(src, b), f"{'watchlist-watchlist' if src == WATCHLIST else 'passenger-passenger'}",
             p, w, s) for src, (a, b, p, w, s) in extra if p >= config.threshold]
    if kept:
        con.executemany(f"INSERT INTO {GROUP_EDGES} VALUES (?, ?, ?, ?, ?, ?)", kept)
    counts = dict(con.execute(f"SELECT kind, count(*) FROM {GROUP_EDGES} GROUP BY kind").fetchall())
    counts["within_list_pairs_scored"] = len(extra)
    return counts


# ----------------------------------------------------------------------------- groups

def _edge_list(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, float]]:
    return con.execute(f"SELECT node_id_l, node_id_r, match_weight FROM {GROUP_EDGES}").fetchall()


def connected_components(con: duckdb.DuckDBPyConnection, threshold: float) -> dict[str, str]:
    """node_id → group id, by Splink's connected components over `group_edges`."""
    from splink import DuckDBAPI
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    con.execute(f"""CREATE OR REPLACE TABLE group_nodes AS
                    SELECT node_id_l AS node_id FROM {GROUP_EDGES} UNION SELECT node_id_r FROM {GROUP_EDGES}""")
    if not con.execute("SELECT count(*) FROM group_nodes").fetchall()[0][0]:
        return {}
    db_api = DuckDBAPI(con)
    clusters = cluster_pairwise_predictions_at_threshold(
        db_api.register("group_nodes"), db_api.register(GROUP_EDGES), db_api=db_api,
        node_id_column_name="node_id", edge_id_column_name_left="node_id_l",
        edge_id_column_name_right="node_id_r", threshold_match_probability=threshold)
    result = dict(con.execute(f"SELECT node_id, cluster_id FROM {clusters.physical_name}").fetchall())
    clusters.drop_table_from_database_and_remove_from_cache()
    return result


def clique_groups(edges: Iterable[tuple[str, str, float]]) -> dict[str, str]:
    """node_id → group id from maximal cliques: largest clique first (then the higher mean
    match weight, then the smallest node id, so the result is deterministic); each node
    joins the first clique that holds it. The group id is the group's smallest node id."""
    import networkx as nx

    graph = nx.Graph()
    for a, b, w in edges:
        if a != b:
            graph.add_edge(a, b, weight=float(w) if w is not None else 0.0)

    def key(clique):
        weights = [graph[a][b]["weight"] for a, b in combinations(clique, 2)]
        return (-len(clique), -(sum(weights) / len(weights) if weights else 0.0), min(clique))

    groups: dict[str, str] = {}
    for clique in sorted((sorted(c) for c in nx.find_cliques(graph)), key=key):
        members = [n for n in clique if n not in groups]
        for n in members:
            groups[n] = members[0]
    return groups


def group(con: duckdb.DuckDBPyConnection, model: dict, config: GroupingConfig = GroupingConfig(),
          matches_table: str = MATCHES) -> dict:
    """Build the edges, group them by `config.method`, and create the `groups` table
    (node_id, source_dataset, unique_id, group_id). Returns a summary."""
    edge_counts = build_edges(con, model, config, matches_table)
    if config.method == "components":
        assignment = connected_components(con, config.threshold)
    else:
        assignment = clique_groups(_edge_list(con))
    con.execute(f"CREATE OR REPLACE TABLE {GROUPS} (node_id VARCHAR, source_dataset VARCHAR, unique_id VARCHAR, group_id VARCHAR)")
    if assignment:
        con.executemany(f"INSERT INTO {GROUPS} VALUES (?, ?, ?, ?)",
                        [(n, *split_node_id(n), g) for n, g in sorted(assignment.items())])
    sizes = np.bincount(np.unique(list(assignment.values()), return_inverse=True)[1]) if assignment else np.array([])
    return {"method": config.method, "edges": edge_counts, "nodes": len(assignment),
            "groups": int(len(sizes)), "largest_group": int(sizes.max()) if len(sizes) else 0}


def passenger_groups(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """scan_id → group id from the `groups` table (for the run report / alerts)."""
    return dict(con.execute(f"SELECT unique_id, group_id FROM {GROUPS} WHERE source_dataset = '{PASSENGERS}'").fetchall())
