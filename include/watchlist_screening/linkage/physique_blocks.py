"""Blocking the photo search on sex: what a wanted person cannot change cuts its arithmetic.

The exact photo search is a matrix product of every passenger against every watchlist
entry, the one step whose cost grows with the product of the day's and the list's sizes
(19 min at 1,000,000 × 1,000,000 on two cores). The contract says a wanted person cannot
change sex, so a passenger recorded F is only ever the person of an entry recorded F:
searching each sex against its own part of the watchlist halves the products and cannot
lose a true pair. It can only find more: look-alikes of the other sex no longer take
top-k places from a true neighbour.

`X` (and a missing value, which the contract does not allow but a feed may carry past
validation in a later version) is not a sex to block on: an `X` passenger is searched
against the whole list, and an `X` entry is in every passenger's block.

Heights are not blocked here. A height window narrow enough to save work (± 6 cm halves
the products again) holds only while measurement noise is small: at a record-to-record
sd of 5.7 cm (the grid's `height_noise_high` world) a 0.999 blocking recall needs ± 19 cm,
which saves almost nothing, and no within-day estimate of that noise exists before the
search has found the pairs that would show it.

Why the default (WATCHLIST_PHOTO_BLOCKING=auto) blocks only a full-scale day's search,
measured on the 12-world grid
(bench/results/scenario_grid_sex_blocking.json against scenario_grid.json, same days):
blocking recall is 1.0 in every world (all_shifted: 0.995 unblocked), candidate pairs fall
by a third, precision at recall 0.99 is unchanged within a sighting, but the unsupervised
model trained on the blocked candidates gives true pairs lower posteriors, and sighting
recall at the default threshold falls in four worlds (height_noise_high 0.995 -> 0.975,
default and native_scripts 1.0 -> 0.99). Among blocked candidates sex agrees almost
always, so it carries no evidence; the evidence it carried against look-alikes of the
other sex must move into λ and the face bands' u, and the EM does not move all of it
(the misses sit at posteriors 0.09-0.25, where the calibration table already showed the
model under-confident). So small days, where the search is cheap, are searched whole;
at 10^11 products and more (candidates.CandidateConfig.auto_blocking_products) the search
is the day's cost, and there the blocked model measured as well as the unblocked one
(the full-scale day: recall 0.999, precision 0.915 blocked against 0.996 / 0.894).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

BLOCKED_SEXES = ("F", "M")
UNBLOCKED = "X"   # searched against, and found by, every block

# (query vectors, base vectors, k) -> (similarities, base row indices), both n × k,
# index -1 where the base had fewer than k rows (as faiss answers)
Search = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def sex_blocks(sexes: Sequence[str | None]) -> np.ndarray:
    """The block each record is searched in: its sex, or X for anything that is not F or M."""
    values = np.asarray(sexes, dtype=object)
    return np.where((values == "F") | (values == "M"), values, UNBLOCKED).astype(object)


def base_members(base_sex: Sequence[str | None]) -> dict[str, np.ndarray]:
    """Per block, which watchlist entries it holds: an F entry is in F's block and X's (an X
    passenger sees all); an entry that is not F or M is in every block."""
    blocks = sex_blocks(base_sex)
    unblocked = blocks == UNBLOCKED
    members = {sex: (blocks == sex) | unblocked for sex in BLOCKED_SEXES}
    members[UNBLOCKED] = np.ones(len(blocks), dtype=bool)
    return members


def blocked_search(query: np.ndarray, query_sex: Sequence[str | None], base: np.ndarray,
                   base_sex: Sequence[str | None], k: int, search: Search) -> tuple[np.ndarray, np.ndarray]:
    """`search` run block by block: each query row's k most similar base rows among those
    its sex can be. Same shapes and index space as one unblocked search (indices into
    `base`, -1 and -inf where a block holds fewer than k rows)."""
    sims = np.full((len(query), k), -np.inf, np.float32)
    idx = np.full((len(query), k), -1, np.int64)
    query_blocks = sex_blocks(query_sex)
    for block, members in base_members(base_sex).items():
        rows = np.flatnonzero(query_blocks == block)
        columns = np.flatnonzero(members)
        if len(rows) == 0 or len(columns) == 0:
            continue
        found_sims, found = search(query[rows], np.ascontiguousarray(base[columns]), min(k, len(columns)))
        width = found.shape[1]
        sims[rows, :width] = found_sims
        idx[rows, :width] = np.where(found >= 0, columns[np.maximum(found, 0)], -1)
    return sims, idx


def share_searched(query_sex: Sequence[str | None], base_sex: Sequence[str | None]) -> float:
    """Products the blocked search computes, as a share of the unblocked search's."""
    if len(query_sex) == 0 or len(base_sex) == 0:
        return 0.0
    query_blocks = sex_blocks(query_sex)
    products = sum(int((query_blocks == block).sum()) * int(members.sum())
                   for block, members in base_members(base_sex).items())
    return products / (len(query_sex) * len(base_sex))
