"""Scenario grid: the linkage over a family of generated worlds, beside the bare face ranking
and a supervised baseline.

    .venv/bin/python bench/scenario_grid.py                          # every scenario, default size
    .venv/bin/python bench/scenario_grid.py --size small             # a quick end-to-end check
    .venv/bin/python bench/scenario_grid.py --scenarios default,all_shifted --watchlist 3000

Scenarios and sizes: watchlist_screening.evaluation.scenarios (default size 5,000 watchlist
× 2 airports × 10,000 passengers, 60 sightings). For each scenario the generator writes a
test day (scenario seed) and a training day (train seed, same world) under --work-dir; each
is loaded with jsonl_loader and blocked with candidates.build_candidates. On the test day:

  model       the pipeline's trainer (training.train, or em_training.train with
              WATCHLIST_TRAINING_METHOD=em / --training em) on the test day itself
              (unsupervised: each world is learnt from its own data), scoring.score at the default threshold (the model's
              recommended_threshold when it gives one, else the pipeline's setting), then
              again at 0 to rank every candidate pair by match weight;
  face        the same candidate pairs ranked by photo cosine alone;
  supervised  gradient boosting on raw pair features, trained with labels on the training
              day (10x the sightings, odds scaled back to the test day's prevalence),
              applied to the test day (evaluation/baselines.py).

Per scenario: sighting recall and precision at the threshold (supervised: at probability
0.5), precision at sighting recall 0.99, sighting recall at
precision 0.95, blocking recall, and whether the model's precision-recall curve lies on
or above the face ranking's (max shortfall over recall 0.5-1.0). The headline is the worst
scenario. Figures go to stdout (a table) and bench/results/scenario_grid.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

import duckdb
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "include"))

from watchlist_screening.evaluation.screening_truth import evaluate, load_truth  # noqa: E402
from watchlist_screening.evaluation import baselines, pairs  # noqa: E402
from watchlist_screening.evaluation import precision_recall  # noqa: E402
from watchlist_screening.evaluation.scenarios import SIZES, Scenario, Size, pick  # noqa: E402
from watchlist_screening.generator import GeneratorConfig, generate  # noqa: E402
from watchlist_screening.linkage import candidates, jsonl_loader, scoring, screen_day  # noqa: E402

DAY = "2026-11-21"
TARGET_RECALL, TARGET_PRECISION = 0.99, 0.95
# The classifier learns calibrated probabilities from labels, so its natural cut is even
# odds; the model's threshold belongs to the model's own calibration.
SUPERVISED_THRESHOLD = 0.5
log = logging.getLogger("scenario_grid")


# ----------------------------------------------------------------------------- data

def generated_day(work_dir: Path, scenario: Scenario, size: Size, seed: int) -> Path:
    """The scenario's day for `seed`, generated once: the directory is named after
    everything that shapes the data, so a changed knob or size never reuses stale files."""
    key = hashlib.sha256(repr((dataclasses.asdict(scenario.world), size, seed)).encode()).hexdigest()[:10]
    landing = work_dir / f"{scenario.name}-{size.label()}-seed{seed}-{key}"
    if not (landing / "truth" / f"{DAY}.jsonl").exists():
        generate(GeneratorConfig(
            landing_dir=landing, dates=(dt.date.fromisoformat(DAY),), watchlist_size=size.watchlist,
            airports=size.airports, passengers_per_airport=size.passengers_per_airport,
            sightings=size.sightings, seed=seed, world=scenario.world))
    return landing


def load(landing: Path, memory_gb: float, photo_blocking: str = "none") -> tuple[duckdb.DuckDBPyConnection, dict, dict]:
    con = duckdb.connect()
    # the machine is shared: spill rather than take what the other jobs need
    con.execute(f"SET memory_limit='{memory_gb}GB'")
    counts = jsonl_loader.load_generated_day(con, landing, DAY)
    counts["candidate_pairs"] = candidates.build_candidates(con, candidates.CandidateConfig(photo_blocking=photo_blocking))
    return con, counts, load_truth(landing, dt.date.fromisoformat(DAY))


# ----------------------------------------------------------------------------- figures

def default_threshold(model: dict, notes: dict) -> tuple[float, str]:
    for source, where in (("model", model), ("training notes", notes)):
        value = where.get("recommended_threshold") if isinstance(where, dict) else None
        if isinstance(value, (int, float)):
            return float(value), f"recommended_threshold of the {source}"
    from watchlist_screening.pipeline_settings import Settings

    return Settings.from_env().match_threshold, "pipeline setting (WATCHLIST_MATCH_THRESHOLD)"


def ranking_figures(curve: precision_recall.Curve) -> dict:
    return precision_recall.summary(curve, TARGET_RECALL, TARGET_PRECISION)


def model_scores(con: duckdb.DuckDBPyConnection, labelled: pairs.LabelledPairs) -> tuple[np.ndarray, str]:
    """Every candidate pair's match weight from the `matches` table scored at threshold 0
    (probabilities saturate at 1 for strong pairs; weights keep them apart)."""
    columns = {r[0] for r in con.execute(f"DESCRIBE {scoring.MATCHES}").fetchall()}
    column = "match_weight" if "match_weight" in columns else "match_probability"
    rows = con.execute(f"SELECT scan_id, subject_id, {column} FROM {scoring.MATCHES}").fetchall()
    return pairs.aligned_scores(labelled, rows), column


def run_scenario(scenario: Scenario, size: Size, work_dir: Path, memory_gb: float,
                 method: str = "priors", photo_blocking: str = "none") -> dict:
    out: dict = {"world": scenario.world.changed(), "seed": scenario.seed, "training_method": method,
                 "train_seed": scenario.train_seed, "seconds": {}}
    seconds = out["seconds"]
    t0 = time.perf_counter()
    test_dir = generated_day(work_dir, scenario, size, scenario.seed)
    train_size = dataclasses.replace(size, sightings=size.sightings * scenario.train_sightings_factor)
    train_dir = generated_day(work_dir, scenario, train_size, scenario.train_seed)
    seconds["generate"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    con, counts, truth = load(test_dir, memory_gb, photo_blocking)
    labelled = pairs.labelled_candidates(con, truth)
    seconds["load_and_candidates"] = round(time.perf_counter() - t0, 1)
    out["counts"] = {k: v for k, v in counts.items()}
    out["sightings"] = len(truth)
    out["blocking"] = pairs.blocking(labelled)
    n = len(labelled.sightings)

    t0 = time.perf_counter()
    model, notes = screen_day.train_model(con, counts, method)
    seconds["train"] = round(time.perf_counter() - t0, 1)
    out["training_notes"] = json.loads(json.dumps(notes, default=str))
    threshold, source = default_threshold(model, notes)
    out["threshold"], out["threshold_source"] = threshold, source

    t0 = time.perf_counter()
    scoring.score(con, model, threshold)
    alerts = con.execute(f"SELECT scan_id, subject_id FROM {scoring.MATCHES}").fetchall()
    scoring.score(con, model, 0.0)
    scores, score_column = model_scores(con, labelled)
    seconds["score"] = round(time.perf_counter() - t0, 1)
    e = evaluate(truth, alerts, dt.date.fromisoformat(DAY))
    decoy = pairs.decoy_kinds(test_dir, DAY)
    false_by_kind: dict[str, int] = {}
    for p in e.false_alerts:
        kind = decoy.get(tuple(p), "other")
        false_by_kind[kind] = false_by_kind.get(kind, 0) + 1
    model_curve = precision_recall.pr_curve(scores, labelled.is_match, labelled.sighting, n)
    face_curve = precision_recall.pr_curve(baselines.face_scores(labelled), labelled.is_match, labelled.sighting, n)
    out["model"] = {
        "sighting_recall": round(e.recall, 4), "precision": round(e.precision, 4), "alerts": e.alerts,
        "false_alerts": len(e.false_alerts), "false_alerts_by_kind": false_by_kind,
        "missed_scan_ids": e.missed_scan_ids[:20], "ranked_by": score_column,
        **ranking_figures(model_curve),
        "vs_face": precision_recall.shortfall(model_curve, face_curve),
        "unscored_candidates": int(np.isnan(scores).sum()),
        # the model's probabilities against truth, per band (item 4 of issue 12)
        "calibration": precision_recall.calibration(
            1.0 / (1.0 + np.exp2(-scores)) if score_column == "match_weight" else scores, labelled.is_match),
    }
    at_model_recall = precision_recall.precision_at_recall(face_curve, e.recall)
    out["face"] = {**ranking_figures(face_curve),
                   "precision_at_model_recall": None if at_model_recall is None else round(at_model_recall, 4),
                   "recall_at_model_precision": round(precision_recall.recall_at_precision(face_curve, e.precision), 4)}
    con.close()

    t0 = time.perf_counter()
    train_con, _, train_truth = load(train_dir, memory_gb)
    train_pairs = pairs.labelled_candidates(train_con, train_truth)
    train_con.close()
    probability, notes = baselines.supervised(train_pairs, labelled, 1.0 / scenario.train_sightings_factor)
    seconds["supervised"] = round(time.perf_counter() - t0, 1)
    at = precision_recall.at_threshold(probability, labelled.is_match, labelled.sighting, n, SUPERVISED_THRESHOLD)
    out["supervised"] = {"sighting_recall": round(at["sighting_recall"], 4), "precision": round(at["precision"], 4),
                         "alerts": at["alerts"], "threshold": SUPERVISED_THRESHOLD,
                         **ranking_figures(precision_recall.pr_curve(probability, labelled.is_match, labelled.sighting, n)),
                         **notes}
    return out


# ----------------------------------------------------------------------------- report

ROW = ("{:<26} {:>6} {:>6} {:>6} | {:>6} {:>6} | {:>6} {:>6} {:>7} | {:>6} {:>6} | {:>6} {:>6} {:>6} {:>6}")
HEADER = ROW.format("scenario", "block", "recall", "prec", "P@R99", "R@P95", "faceP99", "faceR95", "shortf",
                    "supR", "supP", "supP99", "supR95", "thr", "sec")


def _f(x) -> str:
    return "—" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)


def table(results: dict) -> str:
    lines = [HEADER, "-" * len(HEADER)]
    p99, r95 = f"precision_at_recall_{TARGET_RECALL}", f"recall_at_precision_{TARGET_PRECISION}"
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{name:<26} error: {r['error'][:100]}")
            continue
        m, f, s = r["model"], r["face"], r["supervised"]
        lines.append(ROW.format(name, _f(r["blocking"]["blocking_recall"]), _f(m["sighting_recall"]),
                                _f(m["precision"]), _f(m[p99]), _f(m[r95]), _f(f[p99]), _f(f[r95]),
                                _f(m["vs_face"]["max_shortfall"]), _f(s["sighting_recall"]), _f(s["precision"]),
                                _f(s[p99]), _f(s[r95]), _f(r["threshold"]), _f(round(sum(r["seconds"].values())))))
    return "\n".join(lines)


def headline(results: dict) -> dict:
    """The worst scenario: lowest sighting recall at the threshold, then lowest precision;
    beside it the worst of each figure and where."""
    ok = {k: r for k, r in results.items() if "error" not in r}
    out: dict = {"scenarios": len(results), "errors": sorted(set(results) - set(ok))}
    if not ok:
        return out
    worst = min(ok, key=lambda k: (ok[k]["model"]["sighting_recall"], ok[k]["model"]["precision"]))
    out["worst_scenario"] = worst
    out["worst"] = {"model": {k: ok[worst]["model"][k] for k in
                              ("sighting_recall", "precision", f"precision_at_recall_{TARGET_RECALL}",
                               f"recall_at_precision_{TARGET_PRECISION}")},
                    "face": ok[worst]["face"], "model_vs_face": ok[worst]["model"]["vs_face"],
                    "blocking_recall": ok[worst]["blocking"]["blocking_recall"]}

    def lowest(get):
        name = min(ok, key=lambda k: (get(ok[k]) if get(ok[k]) is not None else -1.0))
        return {"scenario": name, "value": get(ok[name])}

    out["lowest"] = {
        "model_sighting_recall": lowest(lambda r: r["model"]["sighting_recall"]),
        "model_precision": lowest(lambda r: r["model"]["precision"]),
        "model_precision_at_recall_0.99": lowest(lambda r: r["model"][f"precision_at_recall_{TARGET_RECALL}"]),
        "model_recall_at_precision_0.95": lowest(lambda r: r["model"][f"recall_at_precision_{TARGET_PRECISION}"]),
        "blocking_recall": lowest(lambda r: r["blocking"]["blocking_recall"]),
    }
    short = max(ok, key=lambda k: ok[k]["model"]["vs_face"]["max_shortfall"])
    out["largest_shortfall_vs_face"] = {"scenario": short, **ok[short]["model"]["vs_face"]}
    out["model_on_or_above_face_everywhere"] = all(r["model"]["vs_face"]["on_or_above"] for r in ok.values())
    out["targets_met"] = {k: r["model"]["sighting_recall"] >= TARGET_RECALL and r["model"]["vs_face"]["on_or_above"]
                          for k, r in ok.items()}
    return out


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def grid_report(size: Size, training: str, definitions: dict, **extra) -> dict:
    """The start of every grid report: which code, when, on what machine, at what size."""
    import psutil

    return {
        "commit": _commit(), "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"host": platform.node(), "cpus": os.cpu_count(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "load_average_at_start": [round(x, 1) for x in os.getloadavg()]},
        "size": dataclasses.asdict(size), "day": DAY, "training_method": training, **extra,
        "definitions": definitions, "scenarios": {},
    }


def run_grid(report: dict, scenarios, run_one, summary, headline_of, out: Path) -> None:
    """Each scenario through `run_one`, the report rewritten after each (a long grid
    leaves its finished worlds behind if stopped); one failing world is recorded, not fatal."""
    for scenario in scenarios:
        print(f"scenario {scenario.name}: {scenario.world.changed()}", flush=True)
        t0 = time.perf_counter()
        try:
            result = run_one(scenario)
        except Exception as exc:  # noqa: BLE001 - one failing world must not hide the others
            traceback.print_exc()
            result = {"world": scenario.world.changed(), "error": f"{type(exc).__name__}: {exc}"[:1000]}
        report["scenarios"][scenario.name] = result
        print(f"  {time.perf_counter() - t0:.0f} s  {summary(result)}", flush=True)
        report["headline"] = headline_of(report["scenarios"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=None, help="comma-separated names (default: all)")
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument("--watchlist", type=int, help="override the size's watchlist entries")
    parser.add_argument("--passengers-per-airport", type=int)
    parser.add_argument("--sightings", type=int)
    parser.add_argument("--work-dir", type=Path, default=REPO / ".local" / "bench" / "scenarios")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scenario_grid.json")
    parser.add_argument("--duckdb-memory-gb", type=float, default=3.0)
    parser.add_argument("--training", choices=("priors", "em"), default=None,
                        help="trainer (default: the pipeline's, WATCHLIST_TRAINING_METHOD)")
    parser.add_argument("--photo-blocking", choices=candidates.PHOTO_BLOCKINGS, default="none",
                        help="the candidate search's blocks (linkage/physique_blocks.py)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.training is None:
        from watchlist_screening.pipeline_settings import Settings

        args.training = Settings.from_env().training_method
    size = SIZES[args.size]
    overrides = {k: v for k, v in (("watchlist", args.watchlist),
                                   ("passengers_per_airport", args.passengers_per_airport),
                                   ("sightings", args.sightings)) if v is not None}
    size = dataclasses.replace(size, **overrides)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    report = grid_report(size, args.training, {
        "sighting_recall": "sightings with at least one true pair alerted / sightings in the truth",
        "precision": "true alerted pairs / alerted pairs",
        "blocking_recall": "sightings with a true pair among the candidates / sightings",
        "curves": "thresholds over every candidate pair; the model ranked by match weight, the face "
                  "ranking by photo cosine, the supervised baseline by its probability",
        "vs_face": "max over recall 0.5..1.0 of (face precision - model precision) at equal recall",
    }, photo_blocking=args.photo_blocking)

    def summary(result: dict) -> str:
        m = result.get("model", {})
        return f"recall {m.get('sighting_recall')}  precision {m.get('precision')}  vs face {m.get('vs_face')}"

    run_grid(report, pick(args.scenarios),
             lambda scenario: run_scenario(scenario, size, args.work_dir, args.duckdb_memory_gb, args.training,
                                           args.photo_blocking),
             summary, headline, args.out)
    print()
    print(table(report["scenarios"]))
    print()
    print(json.dumps(report["headline"], indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
