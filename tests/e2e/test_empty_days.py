"""Days with nothing to alert on, through the real DAG (scripts/run_day.sh = `make run`):
a day with no files, a day with passengers but no match, a watchlist with no entry. The
contract calls an empty day valid, and most days at most airports have no match: each must
finish with its summary (no on-call page), after a day that trained the model, and also as
the first day of a fresh warehouse (no model yet, nothing to train on). The no-match
day's landing path holds quotes that, pasted into the Airflow conf, would redirect the run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from tests.e2e.airflow_home import REPO_ROOT, airflow_env

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# Days no other test uses (the session's alerting service holds every test's alerts).
TRAIN_DAY, EMPTY_DAY, NO_MATCH_DAY, NO_WATCHLIST_DAY = "2031-05-01", "2031-05-02", "2031-05-03", "2031-05-04"
# Days of a second, fresh warehouse (no model in it).
FRESH_EMPTY_DAY, FRESH_NO_WATCHLIST_DAY = "2031-05-05", "2031-05-06"
# Pasted with printf into '{"landing_dir": "%s"}', this name adds a second landing_dir key.
QUOTED = 'land "q", "landing_dir": "nowhere'


def generate(root: Path, day: str, seed: int, sightings: int) -> Path:
    from watchlist_screening.generator.cli import main

    assert main(["--landing-dir", str(root), "--date", day, "--watchlist-size", "2000", "--airports", "LHR",
                 "--passengers-per-airport", "2000", "--sightings", str(sightings), "--bad-lines", "0",
                 "--seed", str(seed)]) == 0
    return root


@pytest.fixture(scope="module")
def landings(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("empty-days")
    trained = generate(base / "trained", TRAIN_DAY, seed=31, sightings=6)
    # Other people's passengers (another seed's world) against the trained day's watchlist.
    strangers = generate(base / "strangers", NO_MATCH_DAY, seed=32, sightings=0)
    no_match = base / QUOTED
    (no_match / "passengers").mkdir(parents=True)
    shutil.copytree(trained / "watchlist", no_match / "watchlist")
    shutil.copytree(strangers / "passengers" / NO_MATCH_DAY, no_match / "passengers" / NO_MATCH_DAY)
    no_watchlist = base / "no-watchlist"
    (no_watchlist / "watchlist").mkdir(parents=True)
    (no_watchlist / "watchlist" / "watchlist.jsonl").write_bytes(b"")
    shutil.copytree(trained / "passengers" / TRAIN_DAY, no_watchlist / "passengers" / NO_WATCHLIST_DAY)
    for path in (no_watchlist / "passengers" / NO_WATCHLIST_DAY).iterdir():  # lines must carry their day
        path.write_text(path.read_text().replace(f'"{TRAIN_DAY}T', f'"{NO_WATCHLIST_DAY}T'))
    fresh_no_watchlist = base / "fresh-no-watchlist"
    shutil.copytree(no_watchlist / "watchlist", fresh_no_watchlist / "watchlist")
    (fresh_no_watchlist / "passengers" / FRESH_NO_WATCHLIST_DAY).mkdir(parents=True)
    for path in (no_watchlist / "passengers" / NO_WATCHLIST_DAY).iterdir():
        (fresh_no_watchlist / "passengers" / FRESH_NO_WATCHLIST_DAY / path.name).write_text(
            path.read_text().replace(f'"{NO_WATCHLIST_DAY}T', f'"{FRESH_NO_WATCHLIST_DAY}T'))
    return {"trained": trained, "no_match": no_match, "no_watchlist": no_watchlist,
            "fresh_no_watchlist": fresh_no_watchlist}


@pytest.fixture(scope="module")
def run_env(stack_up, warehouse_dsn, tmp_path_factory) -> dict[str, str]:
    return airflow_env(tmp_path_factory.mktemp("airflow"), warehouse_dsn)


def run_day(day: str, landing: Path, env: dict[str, str]) -> dict:
    done = subprocess.run([str(REPO_ROOT / "scripts" / "run_day.sh"), day, str(landing)], env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "ON-CALL" not in done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def lines(landing: Path, day: str) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in (landing / "passengers" / day).glob("*.jsonl"))


def report(env: dict[str, str], day: str) -> str:
    return (Path(env["WATCHLIST_REPORT_DIR"]) / f"run-{day}.html").read_text()


@pytest.fixture(scope="module")
def model_version(landings, run_env) -> str:
    summary = run_day(TRAIN_DAY, landings["trained"], run_env)
    assert summary["matches"] > 0
    return summary["model_version"]


def test_a_day_with_no_files(landings, run_env, model_version, warehouse_dsn):
    summary = run_day(EMPTY_DAY, landings["trained"], run_env)
    assert summary["date"] == EMPTY_DAY
    assert (summary["passengers"], summary["quarantined"], summary["candidate_pairs"], summary["matches"],
            summary["alerts_sent"]) == (0, 0, 0, 0, 0)
    assert summary["model_version"] == model_version
    assert "No alerts this day." in report(run_env, EMPTY_DAY)


def test_a_day_with_passengers_and_no_match(landings, run_env, model_version, warehouse_dsn):
    summary = run_day(NO_MATCH_DAY, landings["no_match"], run_env)
    # the quoted landing path reached the DAG whole: its passengers were read
    assert summary["passengers"] == lines(landings["no_match"], NO_MATCH_DAY) > 0
    assert summary["candidate_pairs"] > 0
    assert (summary["matches"], summary["alerts_sent"]) == (0, 0)
    assert summary["model_version"] == model_version
    assert "No alerts this day." in report(run_env, NO_MATCH_DAY)
    with psycopg.connect(warehouse_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM warehouse.matches WHERE scan_day = %s",
                            (NO_MATCH_DAY,)).fetchone()[0] == 0


def test_a_watchlist_with_no_entry(landings, run_env, model_version):
    summary = run_day(NO_WATCHLIST_DAY, landings["no_watchlist"], run_env)
    assert summary["passengers"] == lines(landings["no_watchlist"], NO_WATCHLIST_DAY) > 0
    assert (summary["candidate_pairs"], summary["matches"], summary["alerts_sent"]) == (0, 0, 0)
    assert summary["model_version"] == model_version


@pytest.fixture(scope="module")
def fresh_env(stack_db, run_env, tmp_path_factory):
    """The run environment against a second warehouse, migrated and empty: no model yet."""
    from tests.conftest import migrated_database

    with migrated_database(stack_db["WAREHOUSE_DSN"], "warehouse") as dsn:
        yield {**run_env, "AIRFLOW_CONN_WAREHOUSE_POSTGRES": dsn, "WAREHOUSE_DSN": dsn,
               "WATCHLIST_MODEL_DIR": str(tmp_path_factory.mktemp("fresh-models"))}


def seed_alert(day: str) -> None:
    """An alert of `day` at the service, as an earlier run of the day (before the warehouse
    was rebuilt) left it."""
    from watchlist_screening.alerts.client import AlertClient
    from watchlist_screening.alerts.payload import batch_idempotency_key, build_alert

    alert = build_alert({"scan_id": f"LHR-{day}-earlier", "subject_id": "W-earlier", "airport": "LHR",
                         "scan_day": day, "match_probability": 0.99, "match_weight": 9.0,
                         "model_version": "earlier-model"})
    with AlertClient(os.environ["ALERTS_URL"], os.environ["ALERTS_PIPELINE_TOKEN"]) as client:
        client.send_batch([alert], batch_idempotency_key(day, 0, [alert], "earlier"), "earlier")


def day_alerts(day: str) -> list[dict]:
    import requests

    resp = requests.get(f"{os.environ['ALERTS_URL']}/v1/alerts", params={"date": day}, timeout=30,
                        headers={"Authorization": f"Bearer {os.environ['ALERTS_REVIEWER_TOKEN']}"})
    resp.raise_for_status()
    return resp.json()


def airflow_log(env: dict[str, str], day: str) -> str:
    local = Path(env.get("WATCHLIST_LOCAL_DIR") or REPO_ROOT / ".local")
    return (local / "logs" / f"run-{day}.log").read_text(errors="replace")


def test_a_fresh_warehouse_whose_first_day_is_empty(landings, fresh_env):
    """No model yet and no file: nothing to train on is no failure. The day finishes with
    its summary (no model), and its run still withdraws what an earlier run of the day sent."""
    seed_alert(FRESH_EMPTY_DAY)
    assert [a["status"] for a in day_alerts(FRESH_EMPTY_DAY)] == ["new"]
    summary = run_day(FRESH_EMPTY_DAY, landings["trained"], fresh_env)
    assert summary["date"] == FRESH_EMPTY_DAY
    assert (summary["passengers"], summary["quarantined"], summary["candidate_pairs"], summary["matches"],
            summary["alerts_sent"], summary["model_version"]) == (0, 0, 0, 0, 0, None)
    assert "no model trained: nothing to train on" in airflow_log(fresh_env, FRESH_EMPTY_DAY)
    assert "No alerts this day." in report(fresh_env, FRESH_EMPTY_DAY)
    (alert,) = day_alerts(FRESH_EMPTY_DAY)
    assert alert["status"] == "withdrawn"
    with psycopg.connect(fresh_env["WAREHOUSE_DSN"]) as conn:
        assert conn.execute("SELECT count(*) FROM warehouse.models").fetchone()[0] == 0


def test_a_fresh_warehouse_whose_first_watchlist_is_empty(landings, fresh_env):
    summary = run_day(FRESH_NO_WATCHLIST_DAY, landings["fresh_no_watchlist"], fresh_env)
    assert summary["passengers"] == lines(landings["fresh_no_watchlist"], FRESH_NO_WATCHLIST_DAY) > 0
    assert (summary["candidate_pairs"], summary["matches"], summary["alerts_sent"], summary["model_version"]) \
        == (0, 0, 0, None)
    assert "no model trained: nothing to train on" in airflow_log(fresh_env, FRESH_NO_WATCHLIST_DAY)
