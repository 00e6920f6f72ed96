"""Ingest bench: landing files to queryable rows in Postgres with the real Spark job, beside
the floor of simply reading the same files with DuckDB in the same run.

JSONL: DuckDB's read_json parsing every contract field into a typed table (the target is
≤ 10× that), and a bare count of lines, which needs no values and is reported beside.
Parquet: the same day written by the generator as Parquet (same seed: the same
passengers), through the same job, beside DuckDB's read_parquet reading every contract
field into a typed table (the target is ≤ 4× that).

    .venv/bin/python bench/ingest.py [--passengers 100000 1000000] [--watchlist-size 20000]
        [--formats jsonl parquet]

Needs the local PostgreSQL (`make db`); each scale runs in a throw-away database. Landing
data is generated under .local/bench/ (kept between runs: generation is deterministic).
Figures go to bench/results/ingest.json and stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import drop_database, load_env_file  # noqa: E402

from watchlist_screening.normalise import contract as c  # noqa: E402
from watchlist_screening.normalise.publish import day_partitions  # noqa: E402
from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations  # noqa: E402

DAY = "2030-06-01"
AIRPORTS = ("LHR", "CDG")


def landing_for(passengers: int, watchlist: int, form: str = "jsonl") -> Path:
    root = REPO / ".local" / "bench" / (f"ingest-{passengers}-{watchlist}" + ("" if form == "jsonl" else f"-{form}"))
    if not (root / "passengers" / DAY).is_dir():
        from watchlist_screening.generator.cli import main as generate

        generate(["--landing-dir", str(root), "--date", DAY, "--watchlist-size", str(watchlist),
                  "--airports", ",".join(AIRPORTS), "--passengers-per-airport", str(passengers // len(AIRPORTS)),
                  "--sightings", "50", "--bad-lines", "100", "--seed", "5", "--format", form])
    return root


_DUCKDB_TYPES = {"date": "DATE", "datetime": "TIMESTAMPTZ", "number": "DOUBLE", "embedding": f"FLOAT[{c.EMBEDDING_SIZE}]"}


def duckdb_floor(root: Path) -> dict:
    """DuckDB's read_json on the same files: a count (which needs no values) and the
    floor the target is set against, every contract field parsed into a typed table."""
    files = str(root / "passengers" / DAY / "*.jsonl")
    columns = ", ".join(f"'{f.name}': '{_DUCKDB_TYPES.get(f.kind.value, 'VARCHAR')}'" for f in c.PASSENGER_FIELDS)
    con = duckdb.connect()
    counted, ((count,),) = _best_of_two(
        con, f"SELECT count(*) FROM read_json('{files}', format='newline_delimited', ignore_errors=true)")
    parsed, _ = _best_of_two(con, f"""CREATE OR REPLACE TABLE passengers AS SELECT * FROM read_json('{files}',
                                format='newline_delimited', ignore_errors=true, columns={{{columns}}})""")
    rows = con.sql("SELECT count(*) FROM passengers").fetchall()[0][0]
    return {"rows": count, "count_seconds": round(counted, 2), "parse_seconds": round(parsed, 2), "parsed_rows": rows}


def _best_of_two(con, statement: str) -> tuple[float, list]:
    """The first read also warms the page cache."""
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        result = con.execute(statement).fetchall()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def duckdb_parquet_floor(root: Path) -> dict:
    """DuckDB's read_parquet on the same files: every contract field into a typed table
    (the embedding as FLOAT[128], as the JSONL floor), the floor the Parquet target is set
    against; a count(*), which the footers answer, beside."""
    files = str(root / "passengers" / DAY / "*.parquet")
    columns = ", ".join(f"TRY_CAST({f.name} AS {_DUCKDB_TYPES.get(f.kind.value, 'VARCHAR')}) AS {f.name}"
                        for f in c.PASSENGER_FIELDS)
    con = duckdb.connect()
    counted, ((count,),) = _best_of_two(con, f"SELECT count(*) FROM read_parquet('{files}')")
    parsed, _ = _best_of_two(con, f"CREATE OR REPLACE TABLE passengers AS SELECT {columns} FROM read_parquet('{files}')")
    rows = con.sql("SELECT count(*) FROM passengers").fetchall()[0][0]
    return {"rows": count, "count_seconds": round(counted, 2), "read_seconds": round(parsed, 2), "read_rows": rows}


def _forget_day(dsn: str) -> None:
    """Drops the warm-up's day, so the timed run takes the first-run path a daily run
    takes (a re-run replacing a day also waits out autovacuum on the old partition)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for partition in day_partitions(conn, date.fromisoformat(DAY)):
            conn.execute(f"DROP TABLE {partition}")
        conn.execute("DELETE FROM warehouse.quarantine WHERE dataset = 'passengers'")
        conn.execute("DELETE FROM warehouse.day_runs")


def spark_ingest(root: Path, dsn: str) -> dict:
    # watchlist first, alone, so the day's timing is the passengers' own
    cmd, env = _job(root, dsn, DAY)
    warm = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if warm.returncode != 0:
        raise RuntimeError(warm.stderr[-3000:])
    _forget_day(dsn)
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    peak_kb = next((int(line.split(":")[1]) for line in done.stderr.splitlines()
                    if "Maximum resident set size" in line), None)
    summary = _job_summary(done.stdout)
    return {"seconds": round(seconds, 2), "passengers": summary["passengers"], "quarantined": summary["quarantined"],
            "driver_peak_rss_mb": round(peak_kb / 1024) if peak_kb else None, "steps": _steps(done.stdout)}


def _job_summary(out: str) -> dict:
    """The job's run summary: its last JSON line (Spark may log after it)."""
    return json.loads(next(line for line in reversed(out.splitlines()) if line.startswith("{")))


_STEP_PATTERNS = {   # the job's own log lines; what is left of the total is start-up and exit
    "read_checked_and_staged": r"passengers: \d+ lines parsed, checked and staged in ([\d.]+) s",
    "duplicates_settled": r"duplicates settled in ([\d.]+) s",
    "partition_indexed": r"partition indexed in ([\d.]+) s",
    "published": r": published in ([\d.]+) s",
}


def _steps(log: str) -> dict:
    found = {name: re.search(pattern, log) for name, pattern in _STEP_PATTERNS.items()}
    return {f"{name}_seconds": float(match.group(1)) for name, match in found.items() if match}


def _job(root: Path, dsn: str, day: str) -> tuple[list[str], dict]:
    env = {**os.environ, "WAREHOUSE_DSN": dsn, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
           "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    return ["spark-submit", "--master", "local[*]", "--driver-memory", "8g", "--conf", "spark.sql.session.timeZone=UTC",
            str(REPO / "spark" / "normalise_day.py"), "--date", day, "--landing-dir", str(root)], env


def full_scale(base: str) -> dict:
    """One cold run at the issue's full scale, a 1,000,000-person watchlist and 2 airports ×
    500,000 passengers: the watchlist version is loaded, then the day. Reuses the linkage
    bench's scale-b landing data when it is there (same sizes)."""
    import psutil

    linkage_b = REPO / ".local" / "bench" / "linkage" / "w1000000-p500000-s1000-seed303"
    root = linkage_b if (linkage_b / "watchlist").is_dir() else landing_for(1_000_000, 1_000_000)
    day = sorted(p.name for p in (root / "passengers").iterdir())[0]
    dsn = fresh_database(base)
    peak = [psutil.virtual_memory().used]
    try:
        apply_migrations(dsn, SQL_ROOT / "warehouse")
        cmd, env = _job(root, dsn, day)
        start = time.perf_counter()
        job = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        while job.poll() is None:   # the machine's memory in use, sampled: workers are not the job's children
            peak.append(psutil.virtual_memory().used)
            time.sleep(0.5)
        out = job.stdout.read()
        seconds = time.perf_counter() - start
        if job.returncode != 0:
            raise RuntimeError(out[-3000:])
    finally:
        drop_database(base, dsn)
    summary = _job_summary(out)
    watchlist = re.search(r"watchlist: (\d+) lines parsed, checked and staged in ([\d.]+) s", out)
    return {"watchlist_lines": int(watchlist.group(1)), "watchlist_staged_seconds": float(watchlist.group(2)),
            "passengers": summary["passengers"], "quarantined": summary["quarantined"], "seconds": round(seconds, 2),
            "memory_in_use_growth_gb": round((max(peak) - peak[0]) / 2**30, 2), "steps": _steps(out)}


def fresh_database(base: str) -> str:
    params = conninfo_to_dict(base)
    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params["dbname"] = name
    return make_conninfo(**params)


def _ingest_in_fresh_database(base: str, root: Path) -> dict:
    dsn = fresh_database(base)
    try:
        apply_migrations(dsn, SQL_ROOT / "warehouse")
        return spark_ingest(root, dsn)
    finally:
        drop_database(base, dsn)


def _measure(base: str, n: int, watchlist_size: int, form: str) -> dict:
    """One format at one size: DuckDB's floor on the files, then the job into Postgres."""
    root = landing_for(n, watchlist_size, form)
    size_mb = sum(p.stat().st_size for p in (root / "passengers" / DAY).glob(f"*.{form}")) / 2**20
    load_before = round(os.getloadavg()[0], 2)
    floor = duckdb_floor(root) if form == "jsonl" else duckdb_parquet_floor(root)
    spark = _ingest_in_fresh_database(base, root)
    # the targets: JSONL ≤ 10× DuckDB parsing the lines into typed columns, Parquet ≤ 4× DuckDB
    # reading the rows into typed columns
    floor_seconds = floor["parse_seconds"] if form == "jsonl" else floor["read_seconds"]
    result = {
        "input_mb": round(size_mb, 1), "duckdb_floor": floor, "spark_to_postgres": spark,
        "rows_per_second": round(spark["passengers"] / spark["seconds"]),
        "mb_per_second": round(size_mb / spark["seconds"], 1),
        "ratio_to_floor": round(spark["seconds"] / max(floor_seconds, 1e-9), 1),
        "ratio_to_count": round(spark["seconds"] / max(floor["count_seconds"], 1e-9), 1),
        # other work on the machine slows both measurements, the job (JVM, Python
        # workers and PostgreSQL on the same cores) more than DuckDB's floor
        "load_average_1m_before": load_before, "load_average_1m_after": round(os.getloadavg()[0], 2),
    }
    if form == "parquet":
        del result["ratio_to_count"]   # the footers answer a count: no floor of anything
    return result


def _commit() -> str | None:
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passengers", "--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="day sizes to measure (passengers, split over two airports)")
    parser.add_argument("--watchlist-size", type=int, default=20_000)
    parser.add_argument("--formats", nargs="+", choices=("jsonl", "parquet"), default=["jsonl", "parquet"],
                        help="landing formats to measure at each size (same seed: the same passengers)")
    parser.add_argument("--full-scale", action="store_true",
                        help="also one cold run with a 1,000,000-person watchlist and 1,000,000 passengers")
    args = parser.parse_args(argv)
    base = load_env_file(REPO / ".local" / "stack.env")["WAREHOUSE_DSN"]
    results = []
    for n in args.passengers:
        result = {"passengers": n}
        if "jsonl" in args.formats:
            result.update(_measure(base, n, args.watchlist_size, "jsonl"))
        if "parquet" in args.formats:
            result["parquet"] = _measure(base, n, args.watchlist_size, "parquet")
        print(json.dumps(result), flush=True)
        results.append(result)
    report = {"measured_at": datetime.now(timezone.utc).isoformat(), "commit": _commit(), "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "day": DAY, "results": results}
    if args.full_scale:
        report["full_scale"] = full_scale(base)
        print(json.dumps(report["full_scale"]), flush=True)
    out = REPO / "bench" / "results" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
