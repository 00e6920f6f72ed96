"""Scenario grid, encoded against clear (issue 17): the same generated worlds screened
from their clear landing and from its encoding by the real edge encoder
(watchlist_screening.privacy), side by side.

    .venv/bin/python bench/scenario_grid_encoded.py                 # every scenario, default size
    .venv/bin/python bench/scenario_grid_encoded.py --size large \
        --out bench/results/scenario_grid_encoded_large.json       # 800 sightings (make bench)
    .venv/bin/python bench/scenario_grid_encoded.py --scenarios default \\
        --watchlist 20000 --passengers-per-airport 50000 --out bench/results/linkage_encoded_20k_100k.json

For each scenario of bench/scenario_grid.py (its cached test day under --work-dir, the
encoding cached beside it under a fixed bench secret), both modes are loaded straight
into DuckDB (jsonl_loader / encoded_jsonl_loader), blocked with candidates.build_candidates,
trained unsupervised on the day itself with screen_day.train_model (the encoded mode
swaps the joint identity's levels for Dice levels on the CLKs,
linkage/encoded_comparisons.py), scored at the model's threshold, and held against the
generator's truth (scan_id and subject_id stay clear). Per mode: sighting recall and
precision at the threshold, P@R99, R@P95, blocking recall, wall time per step. Beside
them the encoded model's recall at the clear model's precision (the target: within one
point of the clear recall). The supervised baseline of scenario_grid.py is not run.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import duckdb
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "include"))
sys.path.insert(0, str(REPO / "bench"))

from scenario_grid import (DAY, default_threshold, generated_day, grid_report, model_scores,  # noqa: E402
                           ranking_figures, run_grid)
from watchlist_screening.evaluation import pairs, precision_recall  # noqa: E402
from watchlist_screening.evaluation.scenarios import SIZES, Scenario, Size, pick  # noqa: E402
from watchlist_screening.evaluation.screening_truth import evaluate, load_truth  # noqa: E402
from watchlist_screening.linkage import candidates, jsonl_loader, scoring, screen_day  # noqa: E402
from watchlist_screening.linkage.encoded_jsonl_loader import load_encoded_day  # noqa: E402

# A fixed bench secret: the encodings are cached, and re-encoding gives the same bytes.
SECRET = hashlib.sha256(b"watchlist-screening bench secret, not for real data").digest()
MODES = ("clear", "encoded")


def encoded_day(test_dir: Path) -> tuple[Path, float | None]:
    """The test day's encoding (cached beside it) and the seconds encoding took now."""
    from watchlist_screening.privacy import keys
    from watchlist_screening.privacy.encode import encode_landing

    out = test_dir.parent / f"{test_dir.name}-encoded-{keys.fingerprint(SECRET)}"
    if (out / "watchlist" / "watchlist.jsonl").exists() and (out / "passengers" / DAY).is_dir():
        return out, None
    started = time.perf_counter()
    encode_landing(test_dir, out, SECRET, days=[DAY])
    return out, round(time.perf_counter() - started, 1)


def run_mode(landing: Path, truth: dict, mode: str, method: str, memory_gb: float) -> dict:
    seconds: dict = {}
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{memory_gb}GB'")
    counts = (load_encoded_day(con, landing, DAY) if mode == "encoded"
              else jsonl_loader.load_generated_day(con, landing, DAY))
    seconds["load"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    counts["candidate_pairs"] = candidates.build_candidates(con)
    seconds["candidates"] = round(time.perf_counter() - t0, 1)
    labelled = pairs.labelled_candidates(con, truth)
    t0 = time.perf_counter()
    model, notes = screen_day.train_model(con, counts, method)
    seconds["train"] = round(time.perf_counter() - t0, 1)
    threshold, source = default_threshold(model, notes)
    t0 = time.perf_counter()
    scoring.score(con, model, threshold)
    seconds["score"] = round(time.perf_counter() - t0, 1)
    alerts = con.execute(f"SELECT scan_id, subject_id FROM {scoring.MATCHES}").fetchall()
    scoring.score(con, model, 0.0)
    scores, column = model_scores(con, labelled)
    con.close()
    day = dt.date.fromisoformat(DAY)
    e = evaluate(truth, alerts, day)
    curve = precision_recall.pr_curve(scores, labelled.is_match, labelled.sighting, len(labelled.sightings))
    # the threshold's operating point on the curve's own terms (candidate pairs labelled by
    # truth): the modes are compared point to curve, never evaluate()'s precision against
    # a curve's, which count a few pairs differently (duplicate listings)
    cut = threshold if column != "match_weight" else float(np.log2(threshold / (1.0 - threshold)))
    point = precision_recall.at_threshold(scores, labelled.is_match, labelled.sighting, len(labelled.sightings), cut)
    seconds["linkage"] = round(seconds["candidates"] + seconds["train"] + seconds["score"], 1)
    return {"counts": counts, "threshold": threshold, "threshold_source": source, "trainer": notes.get("trainer"),
            "blocking": pairs.blocking(labelled), "sighting_recall": round(e.recall, 4),
            "precision": round(e.precision, 4), "alerts": e.alerts, "false_alerts": len(e.false_alerts),
            "missed_scan_ids": e.missed_scan_ids[:20], "ranked_by": column,
            "unscored_candidates": int(np.isnan(scores).sum()), **ranking_figures(curve),
            "operating_point": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in point.items()},
            "seconds": seconds, "_curve": curve, "_point": point}


def run_scenario(scenario: Scenario, size: Size, work_dir: Path, method: str, memory_gb: float) -> dict:
    out: dict = {"world": scenario.world.changed(), "seed": scenario.seed}
    test_dir = generated_day(work_dir, scenario, size, scenario.seed)
    encoded, out["encode_seconds"] = encoded_day(test_dir)
    truth = load_truth(test_dir, dt.date.fromisoformat(DAY))
    out["sightings"] = len(truth)
    for mode in MODES:
        out[mode] = run_mode(encoded if mode == "encoded" else test_dir, truth, mode, method, memory_gb)
    clear, enc = out["clear"], out["encoded"]
    reference = clear.pop("_point")
    enc.pop("_point")
    at_clear_precision = precision_recall.recall_at_precision(enc.pop("_curve"), reference["precision"])
    clear.pop("_curve")
    gap = round(reference["sighting_recall"] - at_clear_precision, 4)   # rounded: 1.0 - 0.99 is 0.01
    out["encoded_vs_clear"] = {
        "recall_difference": round(enc["sighting_recall"] - clear["sighting_recall"], 4),
        "precision_difference": round(enc["precision"] - clear["precision"], 4),
        "encoded_recall_at_clear_precision": round(at_clear_precision, 4),
        "recall_gap_at_clear_precision": gap,
        "within_one_point": bool(gap <= 0.01),
        "linkage_seconds": {m: out[m]["seconds"]["linkage"] for m in MODES},
    }
    return out


ROW = "{:<26} {:>7} {:>7} | {:>7} {:>7} | {:>8} {:>6} | {:>6} {:>6}"


def table(results: dict) -> str:
    lines = [ROW.format("scenario", "clearR", "clearP", "encR", "encP", "encR@cP", "gap", "clr s", "enc s")]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{name:<26} error: {r['error'][:100]}")
            continue
        v = r["encoded_vs_clear"]
        lines.append(ROW.format(name, r["clear"]["sighting_recall"], r["clear"]["precision"],
                                r["encoded"]["sighting_recall"], r["encoded"]["precision"],
                                v["encoded_recall_at_clear_precision"], v["recall_gap_at_clear_precision"],
                                v["linkage_seconds"]["clear"], v["linkage_seconds"]["encoded"]))
    return "\n".join(lines)


def headline(results: dict) -> dict:
    ok = {k: r for k, r in results.items() if "error" not in r}
    if not ok:
        return {"errors": sorted(results)}
    gaps = {k: r["encoded_vs_clear"]["recall_gap_at_clear_precision"] for k, r in ok.items()}
    worst = max(gaps, key=gaps.get)
    return {"scenarios": len(results), "errors": sorted(set(results) - set(ok)),
            "within_one_point": sorted(k for k, r in ok.items() if r["encoded_vs_clear"]["within_one_point"]),
            "not_within_one_point": sorted(k for k, r in ok.items() if not r["encoded_vs_clear"]["within_one_point"]),
            "largest_recall_gap_at_clear_precision": {"scenario": worst, "gap": gaps[worst]},
            "mean_recall": {m: round(float(np.mean([r[m]["sighting_recall"] for r in ok.values()])), 4) for m in MODES},
            "mean_precision": {m: round(float(np.mean([r[m]["precision"] for r in ok.values()])), 4) for m in MODES},
            "linkage_seconds_total": {m: round(sum(r[m]["seconds"]["linkage"] for r in ok.values()), 1)
                                      for m in MODES}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=None, help="comma-separated names (default: all)")
    parser.add_argument("--size", default="default", choices=sorted(SIZES))
    parser.add_argument("--watchlist", type=int)
    parser.add_argument("--passengers-per-airport", type=int)
    parser.add_argument("--sightings", type=int)
    parser.add_argument("--work-dir", type=Path, default=REPO / ".local" / "bench" / "scenarios")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "scenario_grid_encoded.json")
    parser.add_argument("--duckdb-memory-gb", type=float, default=3.0)
    parser.add_argument("--training", choices=("priors", "em"), default="em")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    overrides = {k: v for k, v in (("watchlist", args.watchlist), ("passengers_per_airport", args.passengers_per_airport),
                                   ("sightings", args.sightings)) if v is not None}
    size = dataclasses.replace(SIZES[args.size], **overrides)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    report = grid_report(size, args.training, {
        "sighting_recall": "sightings with at least one true pair alerted / sightings in the truth",
        "precision": "true alerted pairs / alerted pairs",
        "operating_point": "recall and precision at the model's threshold over the labelled candidate pairs "
                           "(the terms of the curves)",
        "encoded_recall_at_clear_precision": "the encoded curve's best sighting recall at a precision at least "
                                             "the clear operating point's; the gap is the clear operating "
                                             "point's recall minus it",
        "linkage seconds": "candidates + training + scoring at the threshold (loading the JSONL is not linkage)",
    })
    run_grid(report, pick(args.scenarios),
             lambda scenario: run_scenario(scenario, size, args.work_dir, args.training, args.duckdb_memory_gb),
             lambda result: str(result.get("encoded_vs_clear")), headline, args.out)
    print()
    print(table(report["scenarios"]))
    print(json.dumps(report["headline"], indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
