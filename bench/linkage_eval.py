"""Linkage bench: how well and how fast the linkage screens a generated day with truth.

    .venv/bin/python bench/linkage_eval.py                     # scale "a" + FEBRL4
    .venv/bin/python bench/linkage_eval.py --scales a,b        # also 1,000,000 × 1,000,000
    .venv/bin/python bench/linkage_eval.py --scales a --no-baselines --no-febrl

Scales: a = 20,000 watchlist × 2 airports × 50,000 passengers, 200 sightings; b =
1,000,000 × 2 × 500,000, 1,000 sightings. Each scale is generated twice (a test seed and a
training seed; generated data is cached under --work-dir), loaded with jsonl_loader (no
Spark: Spark is benchmarked elsewhere), and run through the real linkage functions:
candidates.build_candidates, screen_day.train_model (the pipeline's trainer), scoring.score,
grouping.group.

Reports per scale: sighting recall, alert precision, false alerts per 100,000 passengers,
blocking recall, candidate pairs (total and per passenger), wall time and peak memory
(process RSS, sampled) per step; group precision/recall (components and cliques); and
beside the model:
  - supervised ceiling: gradient boosting trained with true labels on the training seed's
    candidate pairs (the model's comparison vectors plus raw photo/height features),
    applied to the test seed's candidate pairs;
  - typical Splink: names, date of birth, place of birth and nationality, blocking on
    them, u by random sampling, λ from deterministic rules, m by EM;
  - photo threshold: alert on every candidate pair at or above the photo cosine that
    maximised F1 on the training seed.
  - recommended threshold: the most precise one keeping sighting recall >= 0.99 on the
    training seed, with its figures on the test day;
  - model with labels: the training seed's alerts at the pipeline's threshold decided by a
    reviewer with the truth, fed to labels.apply_labels, the refined model scored on the
    test day (at the pipeline's and the labels' recommended threshold);
  - --tf-variant: the model with a term-frequency adjusted surname level.
  - --spark: the same day's candidates and scores on the Spark engine (spark_linkage.py,
    local[2]) with the same model: wall time, and whether its matches equal DuckDB's.
Then FEBRL4 (evaluation/febrl.py). Figures go to stdout and bench/results/linkage.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import duckdb
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "include"))

from watchlist_screening.evaluation import grouping_truth  # noqa: E402
from watchlist_screening.evaluation import pairs as labelled_pairs  # noqa: E402
from watchlist_screening.evaluation.screening_truth import evaluate, load_truth  # noqa: E402
from watchlist_screening.linkage import candidates, grouping, jsonl_loader, scoring, screen_day, training  # noqa: E402
from watchlist_screening.linkage import reviewer_labels  # noqa: E402
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST  # noqa: E402

DAY = "2026-11-21"
SCALES = {
    "a": {"watchlist": 20_000, "airports": "LHR,CDG", "per_airport": 50_000, "sightings": 200,
          "seed": 101, "train_seed": 202},
    # a minute end to end: checks the bench itself before a long run
    "smoke": {"watchlist": 3_000, "airports": "LHR,CDG", "per_airport": 3_000, "sightings": 20,
              "seed": 11, "train_seed": 12},
    "b": {"watchlist": 1_000_000, "airports": "LHR,CDG", "per_airport": 500_000, "sightings": 1_000,
          "seed": 303, "train_seed": 202, "train_scale": "a"},
}
DUCKDB_MEMORY_GB = 6.0  # replaced in main() by --duckdb-memory-gb
REUSE_CANDIDATES = False  # replaced in main() by --reuse-candidates
THRESHOLD = 0.5  # replaced in main() by --threshold / the pipeline's WATCHLIST_MATCH_THRESHOLD
log = logging.getLogger("linkage_eval")


# ----------------------------------------------------------------------------- measuring

class PeakRSS:
    """Peak resident memory of this process while a block runs (sampled every 50 ms)."""

    def __init__(self):
        self.proc = psutil.Process()
        self.peak = self.start = 0
        self._stop = threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(0.05)

    def __enter__(self):
        gc.collect()
        self.start = self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


@contextmanager
def step(steps: dict, name: str):
    print(f"  {name} ...", flush=True)
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    with PeakRSS() as mem:
        yield
    # CPU seconds beside wall time: on a shared machine wall time depends on the neighbours
    steps[name] = {"seconds": round(time.perf_counter() - t0, 2), "cpu_seconds": round(_cpu_seconds() - cpu0, 2),
                   "peak_rss_gb": round(mem.peak / 2**30, 2),
                   "rss_growth_gb": round((mem.peak - mem.start) / 2**30, 2)}
    print(f"  {name}: {steps[name]}", flush=True)


# ----------------------------------------------------------------------------- data

def generate(work_dir: Path, spec: dict, seed: int) -> Path:
    from watchlist_screening.generator.cli import main as generator

    landing = work_dir / f"w{spec['watchlist']}-p{spec['per_airport']}-s{spec['sightings']}-seed{seed}"
    if not (landing / "truth" / f"{DAY}.jsonl").exists():
        t0 = time.perf_counter()
        code = generator(["--landing-dir", str(landing), "--date", DAY, "--watchlist-size", str(spec["watchlist"]),
                          "--airports", spec["airports"], "--passengers-per-airport", str(spec["per_airport"]),
                          "--sightings", str(spec["sightings"]), "--seed", str(seed)])
        if code:
            raise RuntimeError(f"generator failed for {landing}")
        print(f"  generated {landing.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return landing


def decoys(landing: Path) -> dict[tuple[str, str], str]:
    """(scan_id, subject_id) → decoy kind, for every listing of the person a decoy resembles."""
    return labelled_pairs.decoy_kinds(landing, DAY)


def metrics(truth: dict[str, set[str]], pairs, passengers: int, decoy: dict | None = None) -> dict:
    e = evaluate(truth, list(pairs), dt.date.fromisoformat(DAY))
    false = len(e.false_alerts)
    out = {"sighting_recall": round(e.recall, 4), "alert_precision": round(e.precision, 4),
           "alerts": e.alerts, "false_alerts": false,
           "false_alerts_per_100k_passengers": round(false / max(passengers, 1) * 1e5, 2),
           "sightings": e.sightings, "sightings_found": e.sightings_found}
    if decoy is not None:
        kinds: dict[str, int] = {}
        for p in e.false_alerts:
            k = decoy.get(tuple(p), "other")
            kinds[k] = kinds.get(k, 0) + 1
        out["false_alerts_by_kind"] = kinds
    return out


def labels(con: duckdb.DuckDBPyConnection, truth: dict[str, set[str]], table: str = candidates.CANDIDATES):
    con.register("truth_pairs", _truth_arrow(truth))
    con.execute(f"""CREATE OR REPLACE TABLE pair_labels AS
                    SELECT c.scan_id, c.subject_id, (t.scan_id IS NOT NULL) AS is_match
                    FROM {table} c LEFT JOIN truth_pairs t USING (scan_id, subject_id)""")
    con.unregister("truth_pairs")


def _truth_arrow(truth):
    import pyarrow as pa

    rows = [(s, w) for s, ws in truth.items() for w in ws]
    return pa.table({"scan_id": pa.array([r[0] for r in rows], pa.string()),
                     "subject_id": pa.array([r[1] for r in rows], pa.string())})


def blocking(con: duckdb.DuckDBPyConnection, truth: dict[str, set[str]], passengers: int) -> dict:
    con.register("truth_pairs", _truth_arrow(truth))
    found_any, found_photo = con.execute(f"""
        SELECT count(DISTINCT t.scan_id), count(DISTINCT t.scan_id) FILTER (WHERE c.via_photo)
        FROM truth_pairs t JOIN {candidates.CANDIDATES} c USING (scan_id, subject_id)""").fetchall()[0]
    con.unregister("truth_pairs")
    pairs = con.execute(f"SELECT count(*) FROM {candidates.CANDIDATES}").fetchall()[0][0]
    return {"blocking_recall": round(found_any / max(len(truth), 1), 4),
            "blocking_recall_photo_only": round(found_photo / max(len(truth), 1), 4),
            "candidate_pairs": pairs, "candidate_pairs_per_passenger": round(pairs / max(passengers, 1), 2)}


# ----------------------------------------------------------------------------- features

def comparison_vectors(con: duckdb.DuckDBPyConnection, model: dict):
    """Every candidate pair's comparison vector (gamma_*), match weight, photo cosine and
    height difference, as numpy arrays; the same Linker and blocked pairs as scoring."""
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(con)
    linker = Linker([db_api.register(PASSENGERS, dataset_display_name=PASSENGERS),
                     db_api.register(WATCHLIST, dataset_display_name=WATCHLIST)], model, log_level=logging.WARNING)
    linker.table_management.register_blocked_pairs_for_predict(db_api.register(candidates.SPLINK_BLOCKED_PAIRS))
    predictions = linker.inference.predict(warning_mode="never")
    names = [c["output_column_name"] for c in model["comparisons"]]
    # Splink keeps gamma_ columns only with the matching columns (the embeddings: GBs at
    # scale), so the level is read back from its match weight, which identifies it.
    gammas = ", ".join(f"pr.mw_{n}" for n in names)
    arrow = con.sql(f"""
        SELECT c.scan_id, c.subject_id, {gammas}, pr.match_weight, c.photo_similarity,
               coalesce(abs(p.height_cm - w.height_cm), -1) AS height_diff,
               coalesce(l.is_match, false) AS is_match
        FROM {predictions.physical_name} pr
        JOIN {candidates.CANDIDATES} c
          ON c.scan_id = CASE WHEN pr.source_dataset_l = '{PASSENGERS}' THEN pr.unique_id_l ELSE pr.unique_id_r END
         AND c.subject_id = CASE WHEN pr.source_dataset_l = '{PASSENGERS}' THEN pr.unique_id_r ELSE pr.unique_id_l END
        JOIN {PASSENGERS} p ON p.unique_id = c.scan_id JOIN {WATCHLIST} w ON w.unique_id = c.subject_id
        LEFT JOIN pair_labels l ON l.scan_id = c.scan_id AND l.subject_id = c.subject_id""").to_arrow_table()
    predictions.drop_table_from_database_and_remove_from_cache()
    x = np.column_stack([_level_of(arrow.column(f"mw_{n}").to_numpy(), c) for n, c in zip(names, model["comparisons"])]
                        + [arrow.column("photo_similarity").to_numpy(), arrow.column("height_diff").to_numpy()])
    return {"pairs": list(zip(arrow.column("scan_id").to_pylist(), arrow.column("subject_id").to_pylist())),
            "x": x.astype(np.float32), "y": arrow.column("is_match").to_numpy(zero_copy_only=False).astype(bool),
            "match_weight": arrow.column("match_weight").to_numpy(), "features": [*names, "photo_cosine", "height_diff"],
            "categorical": [True] * len(names) + [False, False]}


def _level_of(weights: np.ndarray, comparison: dict) -> np.ndarray:
    """Comparison level (Splink's gamma: -1 null, 0 else ... n-1 top) from a match weight."""
    levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
    level_weights = np.array([np.log2(lvl["m_probability"] / lvl["u_probability"]) for lvl in levels])
    gamma = len(levels) - 1 - np.abs(weights[:, None] - level_weights[None, :]).argmin(axis=1)
    has_null = any(lvl.get("is_null_level") for lvl in comparison["comparison_levels"])
    if has_null:
        gamma = np.where(weights == 0, -1, gamma)  # a null level weighs exactly 0
    return gamma


def supervised_ceiling(train: dict, test: dict) -> tuple[list, dict]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    # ~1 match in 4,000 pairs: sklearn's default early stopping validates on ~20 matches and
    # stops at nonsense; a fixed number of regularised rounds is stable (probed on scale a).
    params = dict(max_iter=300, learning_rate=0.05, l2_regularization=1.0, early_stopping=False)
    clf = HistGradientBoostingClassifier(categorical_features=train["categorical"], random_state=0, **params)
    clf.fit(train["x"], train["y"])
    prob = clf.predict_proba(test["x"])[:, 1]
    alerts = [p for p, keep in zip(test["pairs"], prob >= THRESHOLD) if keep]
    strict = [p for p, keep in zip(test["pairs"], prob >= 0.9) if keep]
    return alerts, {"classifier": f"sklearn HistGradientBoostingClassifier({params})",
                    "features": train["features"], "training_pairs": int(len(train["y"])),
                    "training_matches": int(train["y"].sum()), "threshold": THRESHOLD,
                    "_alerts_at_0.9": strict}


def photo_threshold(train: dict, test: dict) -> tuple[list, dict]:
    sims, y = train["x"][:, -2], train["y"]
    best = (0.0, 0.0)
    for t in np.round(np.arange(0.40, 0.96, 0.01), 2):
        pred = sims >= t
        tp = int((pred & y).sum())
        f1 = 2 * tp / (pred.sum() + y.sum()) if pred.sum() + y.sum() else 0
        if f1 > best[0]:
            best = (f1, float(t))
    alerts = [p for p, keep in zip(test["pairs"], test["x"][:, -2] >= best[1]) if keep]
    return alerts, {"threshold": best[1], "chosen_by": "best pair F1 on the training seed's candidate pairs",
                    "training_f1": round(best[0], 4)}


CURVE_THRESHOLDS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 0.99)
TARGET_RECALL, TARGET_PRECISION = 0.99, 0.95


def model_curve(pairs: list, match_weight: np.ndarray, truth, passengers: int) -> list[dict]:
    """The model's recall/precision at other thresholds (same scores as scoring.score)."""
    out = []
    for prob in CURVE_THRESHOLDS:
        w = np.log2(prob / (1 - prob))
        alerts = [p for p, keep in zip(pairs, match_weight >= w) if keep]
        m = metrics(truth, alerts, passengers)
        out.append({"threshold": prob, **{k: m[k] for k in ("sighting_recall", "alert_precision", "alerts",
                                                             "false_alerts_per_100k_passengers")}})
    return out


def recommend_threshold(curve: list[dict]) -> dict:
    """The threshold to alert at, chosen on the training seed (not the day it is judged on):
    the most precise one that keeps sighting recall >= TARGET_RECALL; the highest-recall one
    if none does."""
    ok = [c for c in curve if c["sighting_recall"] >= TARGET_RECALL]
    pool = ok or [max(curve, key=lambda c: (c["sighting_recall"], c["alert_precision"]))]
    best = max(pool, key=lambda c: (c["alert_precision"], -c["threshold"]))
    return {"threshold": best["threshold"], "on_training_seed": best,
            "rule": f"most precise threshold with training-seed sighting recall >= {TARGET_RECALL}"}


def scored_metrics(con, truth, passengers: int, thresholds, decoy=None) -> dict:
    """Metrics of the `matches` table (scored at or below every threshold) per threshold."""
    rows = con.execute(f"SELECT scan_id, subject_id, match_probability FROM {scoring.MATCHES}").fetchall()
    return {str(t): metrics(truth, [(s, w) for s, w, p in rows if p >= t], passengers, decoy) for t in thresholds}


def reviewed_labels(con, truth) -> list[dict]:
    """Reviewer decisions on every alert in `matches`, as a reviewer with the truth would make them."""
    rows = con.execute(f"SELECT scan_id, subject_id FROM {scoring.MATCHES} ORDER BY scan_id, subject_id").fetchall()
    return [{"review_id": i, "scan_id": s, "subject_id": w,
             "decision": "confirmed" if w in truth.get(s, ()) else "false_positive"} for i, (s, w) in enumerate(rows)]


# ----------------------------------------------------------------------------- typical Splink

def typical_splink(con: duckdb.DuckDBPyConnection) -> tuple[list, dict]:
    """What a new user would set up: primary name, date of birth, place of birth and
    nationality; no photo or physique."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    for name, table in (("typ_p", PASSENGERS), ("typ_w", WATCHLIST)):
        con.execute(f"""CREATE OR REPLACE TABLE {name} AS
            SELECT unique_id, name_keys[1] AS full_name, surname_norm, all_dobs[1] AS dob,
                   year(all_dobs[1]) AS birth_year, place_of_birth_norm, nationality FROM {table}""")
    settings = SettingsCreator(
        link_type="link_only", unique_id_column_name="unique_id",
        comparisons=[cl.JaroWinklerAtThresholds("full_name", [0.95, 0.88]), cl.NameComparison("surname_norm"),
                     cl.DateOfBirthComparison("dob", input_is_string=False),
                     cl.ExactMatch("place_of_birth_norm"), cl.ExactMatch("nationality")],
        blocking_rules_to_generate_predictions=[block_on("full_name"), block_on("dob"),
                                                block_on("surname_norm", "birth_year")],
        retain_matching_columns=False, retain_intermediate_calculation_columns=False)
    db_api = DuckDBAPI(con)
    linker = Linker([db_api.register("typ_p", dataset_display_name=PASSENGERS),
                     db_api.register("typ_w", dataset_display_name=WATCHLIST)], settings, log_level=logging.WARNING)
    notes = {"comparisons": "full name JW 0.95/0.88, surname, date of birth, place of birth, nationality",
             "blocking": "full name | date of birth | surname + birth year"}
    try:
        linker.training.estimate_probability_two_random_records_match([block_on("full_name", "dob")], recall=0.7)
    except Exception as exc:  # noqa: BLE001 - a baseline that cannot train is a result
        notes["lambda_error"] = str(exc)[:200]
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in (block_on("dob"), block_on("surname_norm")):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except Exception as exc:  # noqa: BLE001
            notes.setdefault("em_errors", []).append(str(exc)[:200])
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    alerts = con.execute(f"""
        SELECT CASE WHEN source_dataset_l = '{PASSENGERS}' THEN unique_id_l ELSE unique_id_r END,
               CASE WHEN source_dataset_l = '{PASSENGERS}' THEN unique_id_r ELSE unique_id_l END
        FROM {predictions.physical_name}""").fetchall()
    notes["lambda"] = linker.misc.save_model_to_json()["probability_two_random_records_match"]
    return alerts, notes


# ----------------------------------------------------------------------------- one scale

def prepare(landing: Path, steps: dict | None = None, checkpoint=lambda: None):
    """Load + candidates.build_candidates (photo neighbours OR name/DOB rules), timed into
    `steps` when given."""
    steps = {} if steps is None else steps
    con = duckdb.connect()
    # DuckDB's default (80% of RAM) leaves faiss and numpy nothing: spill instead of OOM
    con.execute(f"SET memory_limit='{DUCKDB_MEMORY_GB}GB'")
    with step(steps, "load"):
        counts = jsonl_loader.load_generated_day(con, landing, DAY)
    checkpoint()
    cache = _candidates_cache(landing)
    if REUSE_CANDIDATES and cache.exists():
        with step(steps, "candidates"):
            counts["candidate_pairs"] = _load_candidates(con, cache)
        steps["candidates"]["reused_from"] = cache.name
        return con, counts
    with step(steps, "candidates"):
        counts["candidate_pairs"] = candidates.build_candidates(con)
    con.execute(f"COPY {candidates.CANDIDATES} TO '{cache}' (FORMAT parquet)")
    return con, counts


def _candidates_cache(landing: Path) -> Path:
    """Where this day's candidate pairs are kept, named after the candidate code and its
    configuration: a change to either makes a new file rather than reusing a stale one."""
    import hashlib
    from dataclasses import asdict

    key = hashlib.sha256(Path(candidates.__file__).read_bytes() + repr(asdict(candidates.CandidateConfig())).encode())
    return landing / f"candidates-{key.hexdigest()[:12]}.parquet"


def _load_candidates(con: duckdb.DuckDBPyConnection, cache: Path) -> int:
    """build_candidates' tables from a cached run (--reuse-candidates)."""
    con.execute(f"CREATE OR REPLACE TABLE {candidates.CANDIDATES} AS SELECT * FROM read_parquet('{cache}')")
    return candidates.blocked_pairs_for_splink(con)


def run_scale(name: str, work_dir: Path, baselines: bool, train_cache: dict, result: dict | None = None,
              checkpoint=lambda: None, tf_variant: bool = False, spark: bool = False) -> dict:
    spec = SCALES[name]
    print(f"scale {name}: {spec}", flush=True)
    result = {} if result is None else result
    result.update({"spec": spec, "steps": {}})
    landing = generate(work_dir, spec, spec["seed"])
    truth = load_truth(landing, dt.date.fromisoformat(DAY))
    steps = result["steps"]
    con, counts = prepare(landing, steps, checkpoint)
    result["counts"] = counts
    checkpoint()
    result["blocking"] = blocking(con, truth, counts[PASSENGERS])
    print(f"  blocking: {result['blocking']}", flush=True)
    checkpoint()
    with step(steps, "train"):
        model, notes = screen_day.train_model(con, counts)
    result["training_notes"] = json.loads(json.dumps(notes, default=str))
    checkpoint()
    with step(steps, "score"):
        scoring.score(con, model, THRESHOLD)
    checkpoint()
    alerts = con.execute(f"SELECT scan_id, subject_id FROM {scoring.MATCHES}").fetchall()
    decoy = decoys(landing)
    result["model"] = metrics(truth, alerts, counts[PASSENGERS], decoy)
    print(f"  model: {result['model']}", flush=True)
    result["model"]["missed"] = _missed_detail(con, truth, alerts)
    result["model"]["false_alert_detail"] = _false_detail(con, truth, alerts, decoy)

    pt, wt = grouping_truth.load_person_truth(landing, DAY)
    result["grouping"] = {}
    for method in grouping.METHODS:
        with step(steps, f"group_{method}"):
            summary = grouping.group(con, model, grouping.GroupingConfig(method=method))
        groups = dict(con.execute(f"SELECT node_id, group_id FROM {grouping.GROUPS}").fetchall())
        result["grouping"][method] = {**summary, **grouping_truth.cluster_metrics(groups, grouping_truth.truth_universe(pt, wt), wt)}
        print(f"  grouping {method}: {result['grouping'][method]}", flush=True)

    if baselines:
        labels(con, truth)
        with step(steps, "comparison_vectors"):
            test = comparison_vectors(con, model)
        result["model_threshold_curve"] = model_curve(test["pairs"], test["match_weight"], truth, counts[PASSENGERS])
        train_key = spec.get("train_scale", name)
        if train_key not in train_cache:
            train_cache[train_key] = _training_vectors(work_dir, SCALES[train_key], model)
        train = train_cache[train_key]
        result["baselines"] = {}
        for label, fn in (("supervised_ceiling", supervised_ceiling), ("photo_threshold", photo_threshold)):
            with step(steps, label):
                b_alerts, b_notes = fn(train, test)
            strict = b_notes.pop("_alerts_at_0.9", None)
            result["baselines"][label] = {**metrics(truth, b_alerts, counts[PASSENGERS], decoy), **b_notes,
                                          "trained_on": train["landing"]}
            if strict is not None:
                result["baselines"][label]["at_threshold_0.9"] = metrics(truth, strict, counts[PASSENGERS])
            print(f"  {label}: {result['baselines'][label]}", flush=True)
        result["recommended_threshold"] = recommend_threshold(train["curve"])
        chosen = result["recommended_threshold"]["threshold"]
        result["recommended_threshold"]["on_this_day"] = next(c for c in result["model_threshold_curve"]
                                                              if c["threshold"] == chosen)
        print(f"  recommended threshold: {result['recommended_threshold']}", flush=True)
        with step(steps, "score_with_labels"):
            result["model_with_labels"] = with_labels(con, truth, counts[PASSENGERS], train, decoy)
        print(f"  with labels: { {k: v for k, v in result['model_with_labels'].items() if k != 'label_notes'} }",
              flush=True)
        try:
            with step(steps, "typical_splink"):
                b_alerts, b_notes = typical_splink(con)
            result["baselines"]["typical_splink"] = {**metrics(truth, b_alerts, counts[PASSENGERS], decoy), **b_notes}
        except Exception as exc:  # noqa: BLE001 - report, don't lose the rest of the run
            result["baselines"]["typical_splink"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            traceback.print_exc()
        print(f"  typical_splink: {result['baselines']['typical_splink']}", flush=True)
    if spark:
        result["spark_engine"] = spark_engine(landing, model, alerts, steps)
        print(f"  spark engine: {result['spark_engine']}", flush=True)
    if tf_variant:
        with step(steps, "tf_surname_variant"):
            result["tf_surname"] = tf_surname_variant(con, counts, truth, decoy)
        print(f"  tf_surname at {THRESHOLD}: {result['tf_surname'].get(str(THRESHOLD))}", flush=True)
    con.close()
    return result


def spark_engine(landing: Path, model: dict, duckdb_alerts: list, steps: dict) -> dict:
    """Candidates and scoring of the same day on Spark (local[2]) with the same model."""
    from watchlist_screening.linkage import spark_linkage

    con = duckdb.connect()
    con.execute(f"SET memory_limit='{DUCKDB_MEMORY_GB}GB'")
    jsonl_loader.load_generated_day(con, landing, DAY)
    with step(steps, "spark_session"):
        session = spark_linkage.create_session("linkage-bench", master="local[2]")
    try:
        with step(steps, "spark_candidates_and_score"):
            pairs = spark_linkage.score_on_spark(session, con, model, THRESHOLD)
        alerts = con.execute(f"SELECT scan_id, subject_id FROM {scoring.MATCHES}").fetchall()
    finally:
        session.stop()
        con.close()
    return {"master": "local[2]", "candidate_pairs": pairs, "alerts": len(alerts),
            "same_alerts_as_duckdb": sorted(alerts) == sorted(duckdb_alerts)}


def _training_vectors(work_dir: Path, spec: dict, model: dict) -> dict:
    """The training seed's candidate pairs with true labels (comparison levels do not
    depend on the model's parameters, so any model's settings give the same vectors), the
    model's threshold curve there, and the model refined with reviewer labels of that day:
    its alerts at the pipeline's threshold, decided as a reviewer with the truth would."""
    landing = generate(work_dir, spec, spec["train_seed"])
    con, counts = prepare(landing)
    truth = load_truth(landing, dt.date.fromisoformat(DAY))
    labels(con, truth)
    vectors = comparison_vectors(con, model)
    vectors["landing"] = landing.name
    vectors["curve"] = model_curve(vectors["pairs"], vectors["match_weight"], truth, counts[PASSENGERS])
    scoring.score(con, model, THRESHOLD)
    reviewed = reviewed_labels(con, truth)
    vectors["label_model"], vectors["label_notes"] = reviewer_labels.apply_labels(con, model, reviewed, THRESHOLD)
    con.close()
    return vectors


def with_labels(con, truth, passengers: int, train: dict, decoy) -> dict:
    """The test day scored by the model refined with the training day's reviewer labels."""
    notes = train["label_notes"]
    recommended = notes.get("recommended_threshold") or THRESHOLD
    scoring.score(con, train["label_model"], min(THRESHOLD, recommended))
    at = scored_metrics(con, truth, passengers, sorted({THRESHOLD, recommended}), decoy)
    return {"labels_from": train["landing"], "label_notes": notes,
            "at_pipeline_threshold": at[str(THRESHOLD)], "at_recommended_threshold": at[str(recommended)]}


def tf_surname_variant(con, counts, truth, decoy) -> dict:
    """The same day with Splink's term-frequency adjustment on the surname level."""
    model, _ = training.train(con, counts, training.TrainingConfig(surname_term_frequencies=True))
    scoring.score(con, model, min(CURVE_THRESHOLDS))
    return scored_metrics(con, truth, counts[PASSENGERS], CURVE_THRESHOLDS, decoy)


def _missed_detail(con, truth, alerts, limit: int = 20) -> list[dict]:
    found = {s for s, w in alerts if w in truth.get(s, ())}
    out = []
    for scan in sorted(set(truth) - found)[:limit]:
        subjects = sorted(truth[scan])
        row = con.execute(f"""SELECT max(photo_similarity) FROM {candidates.CANDIDATES}
                              WHERE scan_id = ? AND list_contains(?, subject_id)""", [scan, subjects]).fetchall()[0][0]
        out.append({"scan_id": scan, "subject_ids": subjects, "best_candidate_photo_cosine": row})
    return out


def _false_detail(con, truth, alerts, decoy, limit: int = 20) -> list[dict]:
    false = sorted((s, w) for s, w in alerts if w not in truth.get(s, ()))[:limit]
    out = []
    for s, w in false:
        r = con.execute(f"SELECT match_probability, photo_similarity, evidence FROM {scoring.MATCHES} "
                        "WHERE scan_id = ? AND subject_id = ?", [s, w]).fetchall()[0]
        out.append({"scan_id": s, "subject_id": w, "kind": decoy.get((s, w), "other"),
                    "match_probability": r[0], "photo_cosine": r[1], "evidence": json.loads(r[2])})
    return out


def run_febrl() -> dict:
    from watchlist_screening.evaluation import febrl

    # Both through the project's own path (febrl.py): Splink comparison levels, em.py's EM
    # in turns, Splink's predict; FEBRL3 (deduplication) also grouped by connected
    # components and by maximal cliques (grouping.py). FEBRL3's figures nest under FEBRL4's
    # so the headline keeps reading FEBRL4's at the top level.
    steps: dict = {}
    with step(steps, "febrl4"):
        result = febrl.evaluate()
    with step(steps, "febrl3"):
        dedupe = febrl.evaluate_dedupe()
    dedupe["peak_rss_gb"] = steps["febrl3"]["peak_rss_gb"]
    # FEBRL1/2 were never looked at while the FEBRL levels and rules were chosen: held out
    held_out = {}
    for name in ("febrl1", "febrl2"):
        figures = febrl.evaluate_dedupe(dataset=name)
        figures.pop("notes")
        held_out[name] = figures
    return {**asdict(result), "peak_rss_gb": steps["febrl4"]["peak_rss_gb"], "febrl3": dedupe,
            "febrl_held_out": held_out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="a", help="comma-separated: a (20k × 100k), b (1M × 1M)")
    parser.add_argument("--work-dir", type=Path, default=REPO / ".local" / "bench" / "linkage")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "linkage.json")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--no-febrl", action="store_true")
    parser.add_argument("--threshold", type=float, default=None,
                        help="match probability an alert needs (default: the pipeline's, WATCHLIST_MATCH_THRESHOLD)")
    parser.add_argument("--tf-variant", action="store_true",
                        help="also train and score with a term-frequency adjusted surname level")
    parser.add_argument("--spark", action="store_true",
                        help="also run candidates and scoring on the Spark engine (local[2])")
    parser.add_argument("--reuse-candidates", action="store_true",
                        help="take candidate pairs from an earlier run on the same data and candidate code "
                             "(the 1M x 1M search takes about an hour); its time is then the reading")
    parser.add_argument("--duckdb-memory-gb", type=float, default=6.0,
                        help="DuckDB's memory limit; it spills beyond (the machine is shared)")
    args = parser.parse_args(argv)
    global THRESHOLD, DUCKDB_MEMORY_GB, REUSE_CANDIDATES
    DUCKDB_MEMORY_GB = args.duckdb_memory_gb
    REUSE_CANDIDATES = args.reuse_candidates
    if args.threshold is None:
        from watchlist_screening.pipeline_settings import Settings

        args.threshold = Settings.from_env().match_threshold
    THRESHOLD = args.threshold
    logging.basicConfig(level=logging.WARNING)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                                 "load_average_at_start": [round(x, 1) for x in os.getloadavg()]},
                     "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                     "commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                              capture_output=True, text=True).stdout.strip() or None,
                     "threshold": THRESHOLD, "scales": {}}
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    train_cache: dict = {}
    for name in [s.strip() for s in args.scales.split(",") if s.strip()]:
        partial: dict = {}
        results["scales"][name] = partial
        try:
            run_scale(name, args.work_dir, not args.no_baselines, train_cache, partial,
                      lambda: _save(args.out, previous, results), args.tf_variant, args.spark)
        except Exception as exc:  # noqa: BLE001 - keep the other scales' figures and this one's steps
            traceback.print_exc()
            partial["error"] = f"{type(exc).__name__}: {exc}"[:1000]
        _save(args.out, previous, results)
    if not args.no_febrl:
        results["febrl4"] = run_febrl()
        print(f"febrl4: {results['febrl4']}", flush=True)
    _save(args.out, previous, results)
    print(json.dumps(_headline(results), indent=2))
    return 0


def _save(path: Path, previous: dict, results: dict) -> None:
    """Merge into the results file: a run of one scale keeps the other scales' figures."""
    merged = {**previous, **{k: v for k, v in results.items() if k != "scales"},
              "scales": {**previous.get("scales", {}), **results["scales"]}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2, default=str) + "\n")


def _headline(results: dict) -> dict:
    keys = ("sighting_recall", "alert_precision", "false_alerts_per_100k_passengers", "alerts")
    out = {}
    for name, r in results["scales"].items():
        if "error" in r or "model" not in r:
            out[name] = {k: r.get(k) for k in ("error", "steps", "counts")}
            continue
        out[name] = {"model": {k: r["model"][k] for k in keys}, **r["blocking"],
                     "steps": {k: (v["seconds"], v["peak_rss_gb"]) for k, v in r["steps"].items()},
                     "grouping": {m: {k: g[k] for k in ("pair_precision", "pair_recall")} for m, g in r["grouping"].items()}}
        for b, v in r.get("baselines", {}).items():
            out[name][b] = {k: v.get(k) for k in keys} if "error" not in v else v
        if "recommended_threshold" in r:
            out[name]["recommended_threshold"] = {"threshold": r["recommended_threshold"]["threshold"],
                                                  **r["recommended_threshold"]["on_this_day"]}
        if "model_with_labels" in r:
            out[name]["model_with_labels"] = {
                k: {x: r["model_with_labels"][k][x] for x in keys}
                for k in ("at_pipeline_threshold", "at_recommended_threshold")}
            out[name]["model_with_labels"]["recommended_threshold"] = \
                r["model_with_labels"]["label_notes"].get("recommended_threshold")
        if "tf_surname" in r:
            out[name]["tf_surname"] = {t: {x: m[x] for x in keys} for t, m in r["tf_surname"].items()}
    if "febrl4" in results:
        out["febrl4"] = {k: results["febrl4"][k] for k in ("precision", "recall", "f1", "seconds")}
    return out


if __name__ == "__main__":
    sys.exit(main())
