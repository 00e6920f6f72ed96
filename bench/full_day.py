"""Full-scale day through Airflow: generate the day (timed, progress on the console), then
screen it with `scripts/run_day.sh` (the DAG under `airflow dags test`, as `make run` does)
into a throw-away warehouse database, and record per-task wall time, CPU-seconds and peak
memory (the run summary's `tasks`), the whole run's wall time, and the day's sighting
recall and alert precision against the generator's truth.

    make bench-full                       # 1,000,000 × 2 × 500,000, 1,000 sightings
    .venv/bin/python bench/full_day.py --watchlist 100000 --passengers-per-airport 50000 \
        --sightings 100 --out bench/results/full_day_small.json   # a rehearsal

Needs the local stack (`make up`: PostgreSQL and the alerting service, which receives the
day's alerts) and the Airflow metadata DB (a throw-away SQLite one is made here). The
landing data is kept under .local/bench/full/ (generation is deterministic); its
generation time is recorded beside it and reported on reuse. Not in CI: it runs for tens
of minutes on two cores. Figures go to bench/results/full_day.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import drop_database, load_env_file  # noqa: E402

DAY = "2030-07-01"
TARGET_MINUTES = 15
TARGET_MEMORY_GB = 12


def generated(root: Path, args) -> dict:
    """The landing directory, generated unless it is already there; the generator's own
    summary (with its elapsed seconds) is kept beside the data and read back on reuse."""
    manifest = root / "generated.json"
    if manifest.exists():
        summary = json.loads(manifest.read_text())
        summary["reused"] = True
        return summary
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "watchlist_screening.generator", "--landing-dir", str(root),
                           "--date", DAY, "--watchlist-size", str(args.watchlist), "--airports", args.airports,
                           "--passengers-per-airport", str(args.passengers_per_airport),
                           "--sightings", str(args.sightings), "--seed", str(args.seed)],
                          stdout=subprocess.PIPE, text=True)   # progress lines pass through on stderr
    if done.returncode != 0:
        raise SystemExit(f"generating the day failed (exit {done.returncode})")
    summary = json.loads(done.stdout)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    manifest.write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def fresh_warehouse(base: str) -> str:
    """A migrated database beside the stack's warehouse, as a URI (an Airflow connection
    is one)."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations

    name = f"bench_full_{int(time.time())}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    apply_migrations(dsn, SQL_ROOT / "warehouse")
    return dsn


def service_ready(url: str) -> None:
    """Fail before the hour-long part, not in its last task, when nothing takes the alerts."""
    import requests

    try:
        requests.get(f"{url}/readyz", timeout=5).raise_for_status()
    except requests.RequestException as error:
        raise SystemExit(f"the alerting service at {url} is not ready ({error}): start the stack with `make up`")


def run_day(landing: Path, dsn: str, extra_env: dict[str, str]) -> tuple[dict, float, float]:
    """(run summary, wall seconds, peak memory in use on the machine above the start, GB)."""
    home = Path(tempfile.mkdtemp(prefix="bench-full-airflow-"))
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
           "WATCHLIST_MODEL_DIR": str(home / "models"), "WATCHLIST_REPORT_DIR": str(home / "reports"),
           "WATCHLIST_CANDIDATE_CACHE_DIR": str(home / "candidates"),
           "AIRFLOW_CONN_WAREHOUSE_POSTGRES": dsn, "WAREHOUSE_DSN": dsn, **extra_env}
    subprocess.run(["bash", "-c", f"source {REPO}/scripts/env.sh && airflow db migrate"], env=env, check=True,
                   capture_output=True)
    baseline = psutil.virtual_memory().used
    peak = baseline
    started = time.perf_counter()
    job = subprocess.Popen([str(REPO / "scripts" / "run_day.sh"), DAY, str(landing)], env=env,
                           stdout=subprocess.PIPE, text=True)
    while job.poll() is None:   # memory in use on the machine: the tasks' children are not all ours to ask
        peak = max(peak, psutil.virtual_memory().used)
        time.sleep(1.0)
    seconds = time.perf_counter() - started
    out = job.stdout.read()
    if job.returncode != 0:
        raise SystemExit(f"the day failed (exit {job.returncode}); see {home}/logs and .local/logs/run-{DAY}.log")
    return json.loads(out.strip().splitlines()[-1]), seconds, (peak - baseline) / 2**30


def accuracy(landing: Path, dsn: str) -> dict:
    import psycopg

    from watchlist_screening.evaluation.screening_truth import evaluate, load_truth

    day = dt.date.fromisoformat(DAY)
    with psycopg.connect(dsn) as conn:
        pairs = conn.execute("SELECT scan_id, subject_id FROM warehouse.matches WHERE scan_day = %s", (day,)).fetchall()
    result = evaluate(load_truth(landing, day), pairs, day)
    return {"sightings": result.sightings, "sighting_recall": round(result.sightings_found / max(result.sightings, 1), 4),
            "alerts": len(pairs), "precision": round(result.precision, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchlist", type=int, default=1_000_000)
    parser.add_argument("--airports", default="LHR,CDG")
    parser.add_argument("--passengers-per-airport", type=int, default=500_000)
    parser.add_argument("--sightings", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=404)
    parser.add_argument("--photo-blocking", choices=("none", "sex"), default=None,
                        help="WATCHLIST_PHOTO_BLOCKING for the run (default: the pipeline's)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "full_day.json")
    parser.add_argument("--keep-database", action="store_true", help="leave the warehouse database for inspection")
    args = parser.parse_args(argv)

    root = REPO / ".local" / "bench" / "full" / (
        f"w{args.watchlist}-{args.airports.replace(',', '')}x{args.passengers_per_airport}-s{args.sightings}-seed{args.seed}")
    print(f"[bench-full] landing {root}", file=sys.stderr)
    generation = generated(root, args)
    stack = load_env_file(REPO / ".local" / "stack.env")
    service_ready(stack["ALERTS_URL"])
    base = stack["WAREHOUSE_DSN"]
    dsn = fresh_warehouse(base)
    extra_env = {"WATCHLIST_PHOTO_BLOCKING": args.photo_blocking} if args.photo_blocking else {}
    load_before = round(os.getloadavg()[0], 2)
    try:
        print(f"[bench-full] screening {DAY} through Airflow ...", file=sys.stderr)
        summary, seconds, memory_gb = run_day(root, dsn, extra_env)
        figures = accuracy(root, dsn)
    finally:
        if not args.keep_database:
            drop_database(base, dsn)
    tasks = summary.pop("tasks", [])
    peak_mb = max((t["peak_memory_mb"] or 0 for t in tasks), default=0)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    report = {
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "commit": commit,
        "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "python": platform.python_version(), "load_average_1m_before": load_before,
                    "load_average_1m_after": round(os.getloadavg()[0], 2)},
        "day": {"watchlist": args.watchlist, "airports": args.airports.split(","),
                "passengers_per_airport": args.passengers_per_airport, "sightings": args.sightings, "seed": args.seed},
        "photo_blocking": args.photo_blocking or "pipeline default",
        "generation": {"seconds": generation.get("wall_seconds"), "generator_seconds": generation.get("elapsed_seconds"),
                       "reused": bool(generation.get("reused"))},
        "run": {"wall_seconds": round(seconds, 1), "wall_minutes": round(seconds / 60, 2),
                "machine_memory_growth_gb": round(memory_gb, 2),
                "task_cpu_seconds": round(sum(t["cpu_seconds"] or 0 for t in tasks), 1),
                "largest_task_peak_memory_mb": peak_mb},
        "targets": {"wall_minutes": TARGET_MINUTES, "memory_gb": TARGET_MEMORY_GB,
                    "wall_met": seconds / 60 <= TARGET_MINUTES,
                    # the machine's growth and the largest task's own peak (a process tree
                    # can peak above what the machine shows at the moments it is sampled)
                    "memory_met": max(memory_gb, peak_mb / 1000) <= TARGET_MEMORY_GB},
        "tasks": tasks, "summary": summary, "accuracy": figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(json.dumps({k: report[k] for k in ("run", "targets", "accuracy", "generation")}, indent=1))
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
