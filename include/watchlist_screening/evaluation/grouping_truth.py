"""Score a grouping (linkage/grouping.py) against the generator's truth: pairwise
precision/recall of who was put with whom, and the share of people grouped exactly.

Here and not beside the grouping so that production code carries no truth: the pipeline
never reads these files, the benches and tests do.
"""
from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Mapping

from watchlist_screening.linkage.grouping import node_id
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST


def load_person_truth(landing_dir: Path, day: str) -> tuple[dict[str, str], dict[str, str]]:
    """(passenger node → person_id for the day's sightings, watchlist node → person_id for
    every entry) from the generator's truth files."""
    landing_dir = Path(landing_dir)
    passengers, watchlist = {}, {}
    day_file = landing_dir / "truth" / f"{day}.jsonl"
    if day_file.exists():
        for line in day_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                passengers[node_id(PASSENGERS, r["scan_id"])] = r["person_id"]
    persons_file = landing_dir / "truth" / "watchlist_persons.jsonl"
    if persons_file.exists():
        for line in persons_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                watchlist[node_id(WATCHLIST, r["subject_id"])] = r["person_id"]
    return passengers, watchlist


def truth_universe(passenger_truth: Mapping[str, str], watchlist_truth: Mapping[str, str],
                   scope: str = "sighted") -> dict[str, str]:
    """The nodes a grouping is judged on, with their person: every sighting and every
    watchlist entry of a sighted person ("sighted"), plus every entry of a person listed
    more than once ("all", for whole-watchlist deduplication)."""
    sighted = set(passenger_truth.values())
    universe = dict(passenger_truth)
    if scope == "all":
        counts: dict[str, int] = {}
        for p in watchlist_truth.values():
            counts[p] = counts.get(p, 0) + 1
        universe.update({n: p for n, p in watchlist_truth.items() if p in sighted or counts[p] > 1})
    else:
        universe.update({n: p for n, p in watchlist_truth.items() if p in sighted})
    return universe


def _pairs_by_label(labels: Mapping[str, str]) -> set[tuple[str, str]]:
    by: dict[str, list[str]] = {}
    for node, label in labels.items():
        by.setdefault(label, []).append(node)
    return {tuple(sorted(p)) for members in by.values() for p in combinations(members, 2)}


def cluster_metrics(groups: Mapping[str, str], universe: Mapping[str, str],
                    person_of: Mapping[str, str] | None = None) -> dict:
    """Pairwise precision/recall of a grouping against truth.

    `groups`: node → group id (nodes not in it are singletons). `universe`: node → person
    for the nodes recall is judged on (truth_universe). `person_of`: the person of any
    other node (e.g. every watchlist entry); nodes with no known person (ordinary
    passengers) are people of their own. Precision: of all node pairs put in one group,
    the share that are one person. Recall: of all pairs of universe nodes that are one
    person, the share put in one group. `exact_people`: people whose universe nodes form
    exactly one group with nothing else in it.
    """
    person_of = {**(person_of or {}), **universe}

    def person(n):
        return person_of.get(n, "node:" + n)

    predicted = _pairs_by_label(groups)
    true_pairs = _pairs_by_label(universe)
    correct_predicted = sum(1 for a, b in predicted if person(a) == person(b))
    found = sum(1 for a, b in true_pairs if a in groups and b in groups and groups[a] == groups[b])
    precision = correct_predicted / len(predicted) if predicted else 1.0
    recall = found / len(true_pairs) if true_pairs else 1.0
    members: dict[str, set[str]] = {}
    for n, g in groups.items():
        members.setdefault(g, set()).add(n)
    people: dict[str, set[str]] = {}
    for n, p in universe.items():
        people.setdefault(p, set()).add(n)
    multi = {p: nodes for p, nodes in people.items() if len(nodes) > 1}
    exact = 0
    for p, nodes in multi.items():
        gids = {groups.get(n) for n in nodes}
        if len(gids) == 1 and None not in gids:
            exact += all(person(n) == p for n in members[gids.pop()])
    return {
        "pair_precision": precision, "pair_recall": recall,
        "pair_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "predicted_pairs": len(predicted), "true_pairs": len(true_pairs), "true_pairs_found": found,
        "groups": len(members), "people_with_several_records": len(multi),
        "people_grouped_exactly": exact,
    }
