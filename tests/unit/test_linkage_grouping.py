"""Grouping sightings: connected components and maximal cliques over match, duplicate-
listing and same-day edges, and their precision/recall against the generator's truth."""
from __future__ import annotations

import duckdb
import pytest

from tests.unit.linkage_data import DAY, generate_day, trained_day
from watchlist_screening.evaluation.grouping_truth import cluster_metrics, load_person_truth, truth_universe
from watchlist_screening.linkage import grouping, scoring, training
from watchlist_screening.linkage.grouping import GroupingConfig, clique_groups



def _edges_table(con, edges):
    con.execute("CREATE OR REPLACE TABLE group_edges (node_id_l VARCHAR, node_id_r VARCHAR, kind VARCHAR, "
                "match_probability DOUBLE, match_weight DOUBLE, photo_similarity DOUBLE)")
    con.executemany("INSERT INTO group_edges VALUES (?, ?, 'x', ?, ?, NULL)", [(a, b, p, w) for a, b, p, w in edges])


def test_a_chain_is_one_component_but_two_cliques():
    # a look-alike (c) hangs off a true pair: components merge it, cliques keep it apart
    edges = [("a", "b", 0.99, 20.0), ("b", "c", 0.6, 1.0)]
    con = duckdb.connect()
    _edges_table(con, edges)
    components = grouping.connected_components(con, threshold=0.5)
    assert len(set(components.values())) == 1 and set(components) == {"a", "b", "c"}
    cliques = clique_groups([(a, b, w) for a, b, _, w in edges])
    assert cliques["a"] == cliques["b"] != cliques["c"]


def test_cliques_prefer_larger_then_stronger_and_partition_the_nodes():
    edges = [("p1", "w1", 30.0), ("p1", "w2", 25.0), ("w1", "w2", 28.0),  # a triangle: one person
             ("w2", "x", 5.0), ("x", "y", 2.0), ("y", "z", 9.0)]
    groups = clique_groups(edges)
    assert groups["p1"] == groups["w1"] == groups["w2"]
    assert groups["x"] not in (groups["w2"],)
    assert groups["y"] == groups["z"] != groups["x"]  # the stronger of two equal-size cliques wins
    assert set(groups) == {"p1", "w1", "w2", "x", "y", "z"}


def test_components_drop_edges_below_the_threshold():
    con = duckdb.connect()
    _edges_table(con, [("a", "b", 0.9, 5.0), ("b", "c", 0.2, -2.0)])
    groups = grouping.connected_components(con, threshold=0.5)
    assert groups["a"] == groups["b"] != groups.get("c")


def test_config_rejects_unknown_method():
    with pytest.raises(ValueError):
        GroupingConfig(method="louvain")


@pytest.fixture(scope="module")
def scored_day(tmp_path_factory):
    root = generate_day(tmp_path_factory.mktemp("landing"), 3000, 2000, 16, 5, "--watchlist-duplicates-share", "0.05")
    con, _, model, _ = trained_day(root, training.TrainingConfig(u_random_pairs=2e5, photo_sample_pairs=5_000_000))
    scoring.score(con, model, threshold=0.5)
    return con, model, root


@pytest.mark.parametrize("method", grouping.METHODS)
def test_groups_on_a_generated_day_match_the_truth(scored_day, method):
    con, model, root = scored_day
    config = GroupingConfig(method=method, watchlist_scope="all")
    summary = grouping.group(con, model, config)
    assert summary["edges"]["watchlist-watchlist"] >= 100  # 150 duplicate listings in the list
    groups = dict(con.execute("SELECT node_id, group_id FROM groups").fetchall())
    passengers, watchlist = load_person_truth(root, DAY)
    result = cluster_metrics(groups, truth_universe(passengers, watchlist, "all"), watchlist)
    assert result["pair_precision"] >= 0.95, result
    assert result["pair_recall"] >= 0.9, result
    scans = grouping.passenger_groups(con)
    assert set(scans) == {s for (s,) in con.execute("SELECT DISTINCT scan_id FROM matches").fetchall()}


def test_matched_scope_only_links_todays_entries(scored_day):
    con, model, _ = scored_day
    summary = grouping.group(con, model, GroupingConfig(watchlist_scope="matched", passenger_links=False))
    subjects = {s for (s,) in con.execute("SELECT DISTINCT subject_id FROM matches").fetchall()}
    ww = con.execute("SELECT node_id_l, node_id_r FROM group_edges WHERE kind = 'watchlist-watchlist'").fetchall()
    assert all(grouping.split_node_id(a)[1] in subjects or grouping.split_node_id(b)[1] in subjects for a, b in ww)
    assert "passenger-passenger" not in summary["edges"]


def test_method_is_selectable_from_the_environment(monkeypatch):
    from watchlist_screening.pipeline_settings import Settings

    monkeypatch.setenv("WATCHLIST_GROUPING_METHOD", "cliques")
    monkeypatch.delenv("WATCHLIST_GROUPING_SCOPE", raising=False)
    settings = Settings.from_env()
    assert GroupingConfig.from_settings(settings).method == "cliques"
    assert GroupingConfig.from_settings(settings, method="components").method == "components"


@pytest.mark.parametrize("method", grouping.METHODS)
def test_each_match_row_carries_its_passengers_group(scored_day, method):
    """What score_day stores with every alert: the group of its passenger, from the
    configured grouping over all three kinds of edges."""
    from watchlist_screening.linkage.screen_day import group_matches

    con, model, root = scored_day
    rows = scoring.match_rows(con)
    grouped, count = group_matches(con, model, [dict(r) for r in rows], 0.5, GroupingConfig(method=method))
    groups = grouping.passenger_groups(con)
    assert [r["group_id"] for r in grouped] == [groups[r["scan_id"]] for r in rows]
    assert count == len(set(groups[r["scan_id"]] for r in rows))
    # a passenger seen against two listings of one person: one group for both alerts
    _, watchlist = load_person_truth(root, DAY)
    by_scan: dict[str, set[str]] = {}
    for r in grouped:
        by_scan.setdefault(r["scan_id"], set()).add(watchlist[grouping.node_id("watchlist", r["subject_id"])])
    twice = [s for s, people in by_scan.items() if len(people) == 1
             and sum(1 for r in grouped if r["scan_id"] == s) > 1]
    assert twice, "the fixture's day has a passenger matched to a person listed twice"
    members = dict(con.execute("SELECT node_id, group_id FROM groups").fetchall())
    for scan in twice:
        subjects = [r["subject_id"] for r in grouped if r["scan_id"] == scan]
        assert {members[grouping.node_id("watchlist", s)] for s in subjects} == {groups[scan]}
