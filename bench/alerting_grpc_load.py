"""Load bench of the alerting service's gRPC API against its REST API: sustained alerts/s
and call latency (p50/p99), batched and one alert per call, plus the WatchAlerts stream's
delivery to one console (alerts delivered, and the time from an alert being stored to the
console holding it) under the saturating batched load and under a steady 500 alerts/s. Two replicas behind nginx on this machine.

    .venv/bin/python bench/alerting_grpc_load.py [--duration 15] [--batch 100]

It brings up a stack of its own (scripts/stack.sh up in a temporary directory on free
ports: PostgreSQL, two replicas, nginx with its REST and gRPC ports) and destroys it
afterwards. The rate limit is lifted (capacity, not policy, is measured). Every load comes
from a separate process (this script run as `--worker ...`), the same closed loop for both
transports: each of `concurrency` callers sends its next batch of unique alerts, with an
idempotency key, once the last was answered. REST is also measured with wrk, as
bench/alerting_load.py does, for the figure the README quotes.
Figures go to bench/results/alerting_grpc.json and stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "results" / "alerting_grpc.json"
STACK = REPO_ROOT / "scripts" / "stack.sh"
DAY = "1999-12-30"  # a passenger day nothing else uses


def an_alert(scan_id: str, n: int) -> dict:
    # The shape bench/alerting_load.py sends (its wrk script), so the two benches compare.
    return {"scan_id": scan_id, "subject_id": f"W-{n % 97}", "airport": "LHR", "date": DAY,
            "match_probability": 0.973, "match_weight": 13.52, "model_version": "bench", "photo_similarity": 0.81,
            "group_id": f"g-{n}", "evidence": {"face": 9.1, "surname": 1.5, "date_of_birth": -0.4, "height_cm": 0.8},
            "passenger": {"given_names": "Ann", "surname": "Lee", "date_of_birth": "1980-02-03", "height_cm": 171,
                          "nationality": "GBR"},
            "subject": {"given_names": "Anne", "surname": "Leigh", "date_of_birth": "1980-03-02", "height_cm": 172,
                        "offence": "fraud"}}


def percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {}
    ordered = sorted(values_ms)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": round(pick(0.50), 2), "p90": round(pick(0.90), 2), "p99": round(pick(0.99), 2),
            "max": round(ordered[-1], 2), "mean": round(statistics.fmean(ordered), 2)}


# ------------------------------------------------------------------ load processes

async def _closed_loop(call, concurrency: int, seconds: float, pace: float = 0.0) -> dict:
    """`concurrency` callers, each calling again when answered, or (pace > 0) every `pace`
    seconds at most."""
    latencies: list[float] = []
    failed = 0
    deadline = time.perf_counter() + seconds

    async def caller(worker: int) -> None:
        nonlocal failed
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            started = time.perf_counter()
            try:
                await call(worker, n)
            except Exception:  # noqa: BLE001 (counted; the bench reports failures)
                failed += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if pace:
                await asyncio.sleep(max(0.0, started + pace - time.perf_counter()))

    started = time.perf_counter()
    await asyncio.gather(*(caller(w) for w in range(concurrency)))
    return {"seconds": time.perf_counter() - started, "calls": len(latencies) + failed, "failed": failed,
            "latencies_ms": latencies}


def _alerts(run: str, worker: int, n: int, batch: int) -> list[dict]:
    return [an_alert(f"{run}-{worker}-{n}-{i}", n * batch + i) for i in range(batch)]


async def grpc_worker(target: str, token: str, batch: int, concurrency: int, seconds: float,
                      pace: float = 0.0) -> dict:
    import grpc

    from watchlist_screening.alerts.grpc_transport import alert_message, pb, services

    run = uuid.uuid4().hex[:8]
    metadata = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = services.AlertsStub(channel)

        async def call(worker: int, n: int) -> None:
            request = pb.SubmitAlertsRequest(alerts=[alert_message(a) for a in _alerts(run, worker, n, batch)],
                                             idempotency_key=f"{run}-{worker}-{n}")
            answer = await stub.SubmitAlerts(request, metadata=metadata, timeout=30)
            assert answer.created == batch, answer.created

        return await _closed_loop(call, concurrency, seconds, pace)


async def rest_worker(url: str, token: str, batch: int, concurrency: int, seconds: float) -> dict:
    import httpx

    run = uuid.uuid4().hex[:8]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as client:

        async def call(worker: int, n: int) -> None:
            alerts = _alerts(run, worker, n, batch)
            body = json.dumps({"alerts": alerts} if batch > 1 else alerts[0])
            answer = await client.post("/v1/alerts", content=body, headers={
                "Content-Type": "application/json", "Idempotency-Key": f'"{run}-{worker}-{n}"'})
            assert answer.status_code == 202 and answer.json()["created"] == batch, answer.text[:200]

        return await _closed_loop(call, concurrency, seconds)


async def watch_worker(target: str, token: str, seconds: float) -> dict:
    """A console on WatchAlerts from now on: how many alerts reach it, and how long after
    they were stored (received_at, the database's clock on this same machine)."""
    import grpc

    from watchlist_screening.alerts.grpc_transport import pb, services

    delays: list[float] = []
    started = time.time()
    # The load starts a moment after this console and runs `seconds`; the tail is waited for.
    deadline = started + seconds + 5
    async with grpc.aio.insecure_channel(target) as channel:
        stub = services.AlertsStub(channel)
        stream = stub.WatchAlerts(pb.WatchAlertsRequest(from_now=True, date=DAY), timeout=seconds + 30,
                                  metadata=(("authorization", f"Bearer {token}"),))
        try:
            async for event in stream:
                now = time.time()
                if event.HasField("alert") and event.alert.received_at.ToNanoseconds() / 1e9 >= started:
                    delays.append((now - event.alert.received_at.ToNanoseconds() / 1e9) * 1000)
                if now >= deadline:
                    break
        finally:
            stream.cancel()
    return {"seconds": seconds, "alerts": len(delays), "latencies_ms": delays}


def worker_main(args: argparse.Namespace) -> int:
    args.token = os.environ["BENCH_TOKEN"]
    if args.worker == "grpc":
        out = asyncio.run(grpc_worker(args.target, args.token, args.batch, args.concurrency, args.duration,
                                      args.pace))
    elif args.worker == "rest":
        out = asyncio.run(rest_worker(args.target, args.token, args.batch, args.concurrency, args.duration))
    else:
        out = asyncio.run(watch_worker(args.target, args.token, args.duration))
    print("BENCH_JSON " + json.dumps(out))
    return 0


# ------------------------------------------------------------------ the bench itself

def free_ports(count: int) -> list[int]:
    with ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


@contextmanager
def own_stack():
    """scripts/stack.sh up on free ports in a temporary directory; destroyed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="alerting-grpc-bench-"))
    work.chmod(0o755)  # postgres and nginx's workers read below it when run as root
    pg, lb, r1, r2, glb, g1, g2 = free_ports(7)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERTS_", "WAREHOUSE_", "AIRFLOW_CONN_"))}
    env.update(WATCHLIST_LOCAL_DIR=str(work), PG_PORT=str(pg), ALERTS_LB_PORT=str(lb),
               ALERTS_REPLICA_PORTS=f"{r1} {r2}", ALERTS_GRPC_LB_PORT=str(glb), ALERTS_GRPC_REPLICA_PORTS=f"{g1} {g2}",
               PG_FSYNC="off",
               # capacity, not policy; and a log line per call would be measured too
               ALERTS_RATE_LIMIT_PER_SECOND="0", ALERTS_LOG_LEVEL="WARNING")
    try:
        subprocess.run([str(STACK), "up"], env=env, check=True, capture_output=True, text=True, timeout=600)
        values = {}
        for line in (work / "stack.env").read_text().splitlines():
            if line.startswith("_stack_default "):
                _, name, value = shlex.split(line)
                values[name] = value
        yield {**values, "WATCHLIST_LOCAL_DIR": str(work), "ALERTS_GRPC_REPLICA_PORTS": f"{g1} {g2}"}
    finally:
        subprocess.run([str(STACK), "destroy"], env=env, capture_output=True, timeout=300)
        shutil.rmtree(work, ignore_errors=True)


def spawn(worker: str, target: str, token: str, *, batch: int = 1, concurrency: int = 1,
          seconds: float, pace: float = 0.0) -> subprocess.Popen:
    # The token in the environment, not argv (which every user can read, and where a token
    # starting with "-" reads as an option).
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", worker, "--target", target, "--batch", str(batch),
         "--concurrency", str(concurrency), "--duration", str(seconds), "--pace", str(pace)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "BENCH_TOKEN": token})


def collect(process: subprocess.Popen, timeout: float) -> dict:
    out, _ = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"load process failed ({process.returncode})")
    return json.loads(next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))[len("BENCH_JSON "):])


def figures(raw: dict, batch: int, concurrency: int) -> dict:
    ok = raw["calls"] - raw["failed"]
    return {"batch_size": batch, "concurrency": concurrency, "seconds": round(raw["seconds"], 1),
            "calls": raw["calls"], "failed_calls": raw["failed"], "calls_per_s": round(ok / raw["seconds"], 1),
            "alerts_per_s": round(ok * batch / raw["seconds"], 1), "latency_ms": percentiles(raw["latencies_ms"])}


def wrk_rest(url: str, token: str, batch: int, connections: int, seconds: int) -> dict | None:
    """bench/alerting_load.py's own wrk run against this stack, for its REST figure."""
    if not shutil.which("wrk"):
        return None
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    from alerting_load import WRK_SCRIPT, run_wrk

    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        return run_wrk(url, token, batch=batch, connections=connections, seconds=seconds, script=Path(script.name))


def stream_figures(watched: dict, load: str) -> dict:
    return {"alerts_delivered": watched["alerts"], "while": load,
            "delivery_latency_ms": percentiles(watched["latencies_ms"])}


def git_commit() -> str:
    done = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15, help="seconds per scenario (default 15)")
    parser.add_argument("--batch", type=int, default=100, help="alerts per batched call (default 100)")
    parser.add_argument("--worker", choices=("grpc", "rest", "watch"), help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument("--pace", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    scenarios = [  # (transport, alerts per call, concurrent callers)
        ("grpc", args.batch, 4), ("rest", args.batch, 4), ("grpc", 1, 16), ("rest", 1, 16),
    ]
    results: list[dict] = []
    streams: dict[str, dict] = {}
    with own_stack() as stack:
        token, rest_url, grpc_target = stack["ALERTS_PIPELINE_TOKEN"], stack["ALERTS_URL"], stack["ALERTS_GRPC_TARGET"]
        # Warm-up: pools, caches, the first compile of the statements.
        for transport, target in (("grpc", grpc_target), ("rest", rest_url)):
            collect(spawn(transport, target, token, batch=args.batch, concurrency=2, seconds=3), 120)
        for transport, batch, concurrency in scenarios:
            time.sleep(1)
            target = grpc_target if transport == "grpc" else rest_url
            raw = collect(spawn(transport, target, token, batch=batch, concurrency=concurrency,
                                seconds=args.duration), args.duration + 120)
            result = {"transport": transport, "mode": "batched" if batch > 1 else "single",
                      **figures(raw, batch, concurrency)}
            results.append(result)
            print(f"{transport:4s} {result['mode']:7s} c={concurrency:<3d} {result['alerts_per_s']:>8.0f} alerts/s  "
                  f"p50 {result['latency_ms'].get('p50', 0):.1f} ms  p99 {result['latency_ms'].get('p99', 0):.1f} ms  "
                  f"failed {result['failed_calls']}", file=sys.stderr)
        # A console watching while the batched gRPC load saturates the machine (the console's
        # own process takes its share of the two cores too).
        time.sleep(1)
        watcher = spawn("watch", grpc_target, stack["ALERTS_REVIEWER_TOKEN"], seconds=args.duration)
        time.sleep(2)
        raw = collect(spawn("grpc", grpc_target, token, batch=args.batch, concurrency=4, seconds=args.duration),
                      args.duration + 120)
        saturated = figures(raw, args.batch, 4)
        streams["saturated"] = stream_figures(collect(watcher, args.duration + 120),
                                              f"{saturated['alerts_per_s']:.0f} alerts/s stored (closed loop, 4 callers)")
        # The console at a steady rate below capacity: one caller, a batch every 0.2 s.
        time.sleep(1)
        watcher = spawn("watch", grpc_target, stack["ALERTS_REVIEWER_TOKEN"], seconds=args.duration)
        time.sleep(2)
        raw = collect(spawn("grpc", grpc_target, token, batch=args.batch, concurrency=1, seconds=args.duration,
                            pace=0.2), args.duration + 120)
        paced = figures(raw, args.batch, 1)
        streams["paced"] = stream_figures(collect(watcher, args.duration + 120),
                                          f"{paced['alerts_per_s']:.0f} alerts/s stored (a batch every 0.2 s)")
        print(f"watch: {json.dumps(streams)}", file=sys.stderr)
        time.sleep(1)
        wrk = wrk_rest(rest_url, token, args.batch, 4, int(args.duration))
    by = {(r["transport"], r["mode"]): r for r in results}
    summary = {
        f"{t}_{m}": {"alerts_per_s": by[(t, m)]["alerts_per_s"], "p50_ms": by[(t, m)]["latency_ms"]["p50"],
                     "p99_ms": by[(t, m)]["latency_ms"]["p99"]}
        for t in ("grpc", "rest") for m in ("batched", "single")
    }
    summary["grpc_over_rest_batched"] = round(summary["grpc_batched"]["alerts_per_s"] /
                                              summary["rest_batched"]["alerts_per_s"], 2)
    summary["watch_stream"] = streams
    if wrk:
        summary["rest_batched_wrk"] = {"alerts_per_s": wrk["alerts_per_s"], "p50_ms": wrk["latency_ms"]["p50"],
                                       "p99_ms": wrk["latency_ms"]["p99"]}
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": load_at_start,
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "setup": "2 replicas (uvicorn + grpc.aio in one process each) behind nginx (proxy_pass and grpc_pass), "
                 "PostgreSQL 15 (fsync off), all on this machine; load from separate Python processes "
                 "(grpc.aio / httpx, closed loop, unique alerts, an idempotency key per call) sharing its cores; "
                 f"batched: {args.batch} alerts per call; REST also by wrk -t1 -c4 (bench/alerting_load.py's script)",
        "summary": summary,
        "scenarios": results,
        "wrk_rest_batched": wrk,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
