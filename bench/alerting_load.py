"""Load bench of the alerting service: sustained alerts/s and latency percentiles, in
batches and one by one, with two replicas behind nginx on this machine.

    .venv/bin/python bench/alerting_load.py [--duration 20] [--batch 100]

It starts what it measures and stops it afterwards: two replicas and the balancer through
scripts/alerting.sh (the local stack's own script, in a temporary directory on free
ports), on a throw-away database in the local PostgreSQL cluster (`make db` first; its
credentials come from .local/stack.env). The rate limit is lifted for these replicas:
the bench measures capacity, not the policy. The load comes from wrk, a separate
process, sending unique alerts with an Idempotency-Key each, as the pipeline does.
Figures go to bench/results/alerting.json and stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import requests
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results" / "alerting.json"
DAY = "1999-12-31"  # a passenger day nothing else uses
# One request per call of request(): a batch of unique alerts (or one alert) carrying an
# Idempotency-Key; done() prints wrk's own latency histogram as one JSON line.
WRK_SCRIPT = r"""
local batch = tonumber(os.getenv("BENCH_BATCH"))
local run, day, token = os.getenv("BENCH_RUN"), os.getenv("BENCH_DAY"), os.getenv("BENCH_TOKEN")
local threads = 0
local counter = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local function alert(n, i)
  return string.format(
    '{"scan_id":"%s-%d-%d-%d","subject_id":"W-%d","airport":"LHR","date":"%s",' ..
    '"match_probability":0.973,"match_weight":13.52,"model_version":"bench","photo_similarity":0.81,' ..
    '"group_id":"g-%d","evidence":{"face":9.1,"surname":1.5,"date_of_birth":-0.4,"height_cm":0.8},' ..
    '"passenger":{"given_names":"Ann","surname":"Lee","date_of_birth":"1980-02-03","height_cm":171,"nationality":"GBR"},' ..
    '"subject":{"given_names":"Anne","surname":"Leigh","date_of_birth":"1980-03-02","height_cm":172,"offence":"fraud"}}',
    run, tid, n, i, i % 97, day, n)
end

function request()
  counter = counter + 1
  local body
  if batch == 1 then
    body = alert(counter, 0)
  else
    local parts = {}
    for i = 1, batch do parts[i] = alert(counter, i) end
    body = '{"alerts":[' .. table.concat(parts, ",") .. ']}'
  end
  return wrk.format("POST", "/v1/alerts", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = run .. "-" .. tid .. "-" .. counter,
  }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_ms":{"p50":%.2f,"p90":%.2f,"p99":%.2f,"max":%.2f,"mean":%.2f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_env() -> dict[str, str]:
    """The local stack's settings (scripts/stack.sh writes them as `_stack_default NAME
    'value'` lines; the tests' reader parses them)."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from conftest import load_env_file

    return load_env_file(REPO_ROOT / ".local" / "stack.env")


@contextmanager
def throwaway_database(base_dsn: str):
    name = f"alerts_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(**{**conninfo_to_dict(base_dsn), "dbname": name})
    try:
        apply_migrations(dsn, SQL_ROOT / "alerts")
        yield dsn
    finally:
        with psycopg.connect(base_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def two_replicas_behind_nginx(dsn: str, token: str):
    """scripts/alerting.sh start/stop in a temporary directory on free ports."""
    work = Path(tempfile.mkdtemp(prefix="alerting-bench-"))
    work.chmod(0o755)  # nginx's workers (user nobody) read below it when run as root
    exports = {"ALERTS_DB_DSN": dsn, "ALERTS_PIPELINE_TOKEN": token,
               "ALERTS_REVIEWER_TOKEN": secrets.token_urlsafe(16), "ALERTS_RATE_LIMIT_PER_SECOND": "0",
               "ALERTS_LOG_LEVEL": "WARNING"}  # a log line per request would be measured too
    (work / "stack.env").write_text("".join(f"export {k}='{v}'\n" for k, v in exports.items()))
    lb_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
    env.update(WATCHLIST_LOCAL_DIR=str(work), ALERTS_LB_PORT=str(lb_port),
               ALERTS_REPLICA_PORTS=f"{free_port()} {free_port()}")
    script = REPO_ROOT / "scripts" / "alerting.sh"
    try:
        subprocess.run([str(script), "start"], env=env, check=True, capture_output=True, text=True)
        yield f"http://127.0.0.1:{lb_port}"
    finally:
        subprocess.run([str(script), "stop"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def run_wrk(url: str, token: str, *, batch: int, connections: int, seconds: int, script: Path) -> dict:
    env = {**os.environ, "BENCH_BATCH": str(batch), "BENCH_RUN": uuid.uuid4().hex[:8], "BENCH_DAY": DAY,
           "BENCH_TOKEN": token}
    out = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "-s", str(script), url],
        env=env, check=True, capture_output=True, text=True, timeout=seconds + 60,
    ).stdout
    raw = json.loads(next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))[len("BENCH_JSON "):])
    seconds_run = raw["duration_us"] / 1e6
    ok = raw["requests"] - sum(raw["errors"].values())
    return {
        "batch_size": batch, "connections": connections, "seconds": round(seconds_run, 1),
        "requests": raw["requests"], "failed_requests": sum(raw["errors"].values()), "errors": raw["errors"],
        "requests_per_s": round(raw["requests"] / seconds_run, 1),
        "alerts_per_s": round(ok * batch / seconds_run, 1),
        "latency_ms": raw["latency_ms"],
    }


def stored(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM alerts.alerts").fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20, help="seconds per scenario (default 20)")
    parser.add_argument("--batch", type=int, default=100, help="alerts per batch request (default 100)")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        parser.error("wrk not found (apt-get install wrk)")
    token = secrets.token_urlsafe(24)
    # The machine is shared: what else ran is part of what the figures mean.
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    scenarios = [  # (name, alerts per request, concurrent connections)
        ("batch", args.batch, 2), ("batch", args.batch, 4), ("single", 1, 4), ("single", 1, 16),
    ]
    results = []
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script, \
            throwaway_database(stack_env()["ALERTS_DB_DSN"]) as dsn, two_replicas_behind_nginx(dsn, token) as url:
        script.write(WRK_SCRIPT)
        script.flush()
        lua = Path(script.name)
        run_wrk(url, token, batch=args.batch, connections=2, seconds=3, script=lua)  # warm-up: pools, caches
        for name, batch, connections in scenarios:
            time.sleep(1)  # requests in flight when the last wrk stopped still finish
            before = stored(dsn)
            figures = run_wrk(url, token, batch=batch, connections=connections, seconds=args.duration, script=lua)
            time.sleep(1)
            # Every accepted alert is in the database (the unique pair forbids doubles); at
            # most one request per connection more, cut off from wrk's count at the end.
            figures["alerts_stored"] = stored(dsn) - before
            accepted = (figures["requests"] - figures["failed_requests"]) * batch
            assert accepted <= figures["alerts_stored"] <= accepted + connections * batch, figures
            results.append({"scenario": name, **figures})
            print(f"{name:6s} batch={batch:<4d} c={connections:<3d} {figures['alerts_per_s']:>8.0f} alerts/s "
                  f"{figures['requests_per_s']:>7.0f} req/s  p50 {figures['latency_ms']['p50']:.1f} ms  "
                  f"p99 {figures['latency_ms']['p99']:.1f} ms  failed {figures['failed_requests']}", file=sys.stderr)
        readiness = requests.get(f"{url}/readyz", timeout=5).status_code
    batch_run, single_run = results[0], results[2]
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip() or None,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_start": load_at_start, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "setup": "2 replicas (uvicorn, 1 process each) behind nginx, local PostgreSQL 15; wrk -t1 from the same "
                 "machine; closed loop (each connection sends its next request when the last is answered)",
        "target": {"batch_alerts_per_s": 2000, "batch_p99_ms": 100},
        "summary": {
            "batch_alerts_per_s": batch_run["alerts_per_s"], "batch_p50_ms": batch_run["latency_ms"]["p50"],
            "batch_p99_ms": batch_run["latency_ms"]["p99"], "batch_size": batch_run["batch_size"],
            "batch_connections": batch_run["connections"],
            "single_alerts_per_s": single_run["alerts_per_s"], "single_p50_ms": single_run["latency_ms"]["p50"],
            "single_p99_ms": single_run["latency_ms"]["p99"], "single_connections": single_run["connections"],
        },
        "ready_after": readiness,
        "scenarios": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
