"""Reviewer decisions as training labels (AlertClient.fetch_review_labels reads them)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# What each decision says about the pair; needs_info says nothing yet.
MATCH, NON_MATCH, UNDECIDED = "confirmed", "false_positive", "needs_info"


def latest_decisions(labels: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(scan_id, subject_id) -> the pair's latest decision, from labels in any order."""
    latest: dict[tuple[str, str], tuple[int, str]] = {}
    for label in labels:
        pair = (str(label["scan_id"]), str(label["subject_id"]))
        review_id = int(label["review_id"])
        if pair not in latest or review_id > latest[pair][0]:
            latest[pair] = (review_id, str(label["decision"]))
    return {pair: decision for pair, (_, decision) in latest.items()}
