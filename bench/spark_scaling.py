"""The Spark engine on one core and on two: does its candidate search and scoring scale with
executors? The same day, the same model (trained once on DuckDB), Spark local[1] then
local[2]; per stage the wall time and the parallel efficiency T1 / (2 × T2). The rates
also give the projection the README states for a 10× day on a 10-executor cluster.

    .venv/bin/python bench/spark_scaling.py [--watchlist 20000 --passengers-per-airport 50000]

The day is generated under .local/bench/spark-scaling/ (kept). Figures go to
bench/results/spark_scaling.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
DAY = "2026-11-21"
THRESHOLD = 0.25


def landing(args) -> Path:
    root = REPO / ".local" / "bench" / "spark-scaling" / (
        f"w{args.watchlist}-p{args.passengers_per_airport}-s{args.sightings}-seed{args.seed}")
    if not (root / "truth" / f"{DAY}.jsonl").exists():
        from watchlist_screening.generator.cli import main as generate

        generate(["--landing-dir", str(root), "--date", DAY, "--watchlist-size", str(args.watchlist),
                  "--airports", "LHR,CDG", "--passengers-per-airport", str(args.passengers_per_airport),
                  "--sightings", str(args.sightings), "--seed", str(args.seed), "--quiet"])
    return root


def loaded(root: Path) -> tuple[duckdb.DuckDBPyConnection, dict]:
    from watchlist_screening.linkage import jsonl_loader

    con = duckdb.connect()
    con.execute("SET memory_limit='4GB'")
    return con, jsonl_loader.load_generated_day(con, root, DAY)


def timed_run(root: Path, model: dict, master: str) -> dict:
    """Candidates, then candidates and scoring, on a fresh session with `master`."""
    from watchlist_screening.linkage import scoring, spark_linkage

    started = time.perf_counter()
    session = spark_linkage.create_session(f"spark-scaling-{master}", master=master)
    figures = {"master": session.sparkContext.master, "parallelism": session.sparkContext.defaultParallelism,
               "session_seconds": round(time.perf_counter() - started, 1)}
    try:
        con, _ = loaded(root)
        began = time.perf_counter()
        figures["candidate_pairs"] = spark_linkage.candidates_on_spark(session, con)[0]
        figures["candidates_seconds"] = round(time.perf_counter() - began, 1)
        con.close()
        con, _ = loaded(root)
        began = time.perf_counter()
        spark_linkage.score_on_spark(session, con, model, THRESHOLD)
        both = time.perf_counter() - began
        figures["scoring_seconds"] = round(max(both - figures["candidates_seconds"], 0.0), 1)
        figures["candidates_and_scoring_seconds"] = round(both, 1)
        figures["alerts"] = con.sql(f"SELECT count(*) FROM {scoring.MATCHES}").fetchall()[0][0]
        con.close()
    finally:
        session.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchlist", type=int, default=20_000)
    parser.add_argument("--passengers-per-airport", type=int, default=50_000)
    parser.add_argument("--sightings", type=int, default=200)
    parser.add_argument("--seed", type=int, default=505)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "spark_scaling.json")
    parser.add_argument("--one-master", help=argparse.SUPPRESS)   # internal: one run, in its own JVM
    parser.add_argument("--model-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_master:
        print(json.dumps(timed_run(landing(args), json.loads(args.model_file.read_text()), args.one_master)))
        return 0

    from watchlist_screening.linkage import candidates, screen_day

    root = landing(args)
    con, counts = loaded(root)
    counts["candidate_pairs"] = candidates.build_candidates(con)
    model, _ = screen_day.train_model(con, counts, "em")
    con.close()
    model_file = args.out.with_suffix(".model.json")
    model_file.write_text(json.dumps(model))
    # each master in a process of its own: a second session in one process reuses the JVM
    # that the first warmed up, which would flatter whichever runs second
    runs = []
    for master in ("local[1]", "local[2]"):
        done = subprocess.run([sys.executable, __file__, "--one-master", master, "--model-file", str(model_file),
                               "--watchlist", str(args.watchlist), "--passengers-per-airport",
                               str(args.passengers_per_airport), "--sightings", str(args.sightings),
                               "--seed", str(args.seed)], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    model_file.unlink()
    one, two = runs
    efficiency = {stage: round(one[f"{stage}_seconds"] / (2 * max(two[f"{stage}_seconds"], 1e-9)), 2)
                  for stage in ("candidates", "scoring", "candidates_and_scoring")}
    products = counts["passengers"] * counts["watchlist"]
    report = {
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m": round(os.getloadavg()[0], 2)},
        "day": {"watchlist": counts["watchlist"], "passengers": counts["passengers"], "sightings": args.sightings},
        "runs": runs,
        "parallel_efficiency": efficiency,
        "photo_products_per_second_per_core": round(products / max(one["candidates_seconds"], 1e-9)),
        "same_alerts_on_both": one["alerts"] == two["alerts"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
