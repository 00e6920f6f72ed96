"""
### Watchlist screening — one passenger day per run

Reads the day's airport scanner files from the landing zone, normalises them with Spark
into Postgres, links the passengers against the watchlist with a Splink model, and sends
every match to the alerting service. A run for a date replaces that date's rows; alerts are
idempotent by (scan_id, subject_id), so any task can be cleared and re-run.

| task | does | when it fails |
|---|---|---|
| `prepare_day` | applies warehouse migrations, lists the day's files | Postgres unreachable: retried; fix the connection `warehouse_postgres` |
| `normalise` | Spark: validate, clean, load passengers/watchlist/quarantine | too many bad lines: see `warehouse.quarantine` for the day, fix the feed, clear the task |
| `ensure_model` | reuses the current model or trains one (param `retrain`) | no data to train on: run a day with passengers first |
| `score_day` | candidate pairs, Splink scores, matches into `warehouse.matches` | re-run after fixing; matches for the day are replaced |
| `plan_alert_batches` / `send_alerts` | fans matches out to the alerting service in mapped batches | service down: retried with backoff; re-sending never duplicates |
| `summarise_day` | writes and logs the day's run summary | — |
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

REPO_ROOT = Path(__file__).resolve().parents[1]
POSTGRES_JDBC_JAR = "/usr/share/java/postgresql.jar"
SCAN_DAY = "{{ params.date or ds }}"


def _on_failure(context):
    from watchlist_screening.oncall import OnCallNotifier

    OnCallNotifier().notify(context)


@dag(
    dag_id="watchlist_screening",
    # data intervals: the run for day D starts once D is over and has ds = D
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    tags=["watchlist", "screening"],
    default_args={
        "retries": 2,
        "retry_delay": dt.timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=10),
        "on_failure_callback": _on_failure,
    },
    params={
        "date": Param(None, type=["null", "string"], format="date", description="Screen this day instead of the run's date"),
        "landing_dir": Param(None, type=["null", "string"], description="Landing directory (default: $WATCHLIST_LANDING_DIR)"),
        "retrain": Param(False, type="boolean", description="Train a new model from this day"),
        "match_threshold": Param(None, type=["null", "number"], minimum=0, maximum=1, description="Alert at or above this match probability"),
        "dry_run": Param(False, type="boolean", description="Score but do not send alerts"),
    },
    render_template_as_native_obj=False,
)
def watchlist_screening():
    @task
    def prepare_day(params=None, ds=None) -> dict:
        from watchlist_screening.day import prepare_day as prepare

        return prepare(params or {}, ds)

    prepared = prepare_day()

    normalise = SparkSubmitOperator(
        task_id="normalise",
        conn_id="spark_default",
        application=str(REPO_ROOT / "spark" / "normalise_day.py"),
        jars=POSTGRES_JDBC_JAR,
        name="watchlist-normalise-{{ params.date or ds }}",
        application_args=[
            "--date", SCAN_DAY,
            "--landing-dir", "{{ ti.xcom_pull(task_ids='prepare_day')['landing_dir'] }}",
        ],
        # secrets go through the environment, never the (logged) command line
        env_vars={
            "WAREHOUSE_DSN": "{{ conn.warehouse_postgres.get_uri() }}",
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        },
        conf={"spark.sql.session.timeZone": "UTC", "spark.driver.memory": "4g"},
        retries=1,
    )

    @task
    def ensure_model(prepared: dict) -> str:
        from watchlist_screening.day import ensure_model as ensure

        return ensure(prepared)

    @task
    def score_day(prepared: dict, model_version: str) -> dict:
        from watchlist_screening.day import score_day as score

        return score(prepared, model_version)

    @task
    def plan_alert_batches(prepared: dict, scored: dict) -> list[dict]:
        from watchlist_screening.day import plan_alert_batches as plan

        return plan(prepared, scored)

    @task(max_active_tis_per_dagrun=4)
    def send_alerts(batch: dict) -> dict:
        from watchlist_screening.day import send_alert_batch

        return send_alert_batch(batch)

    # runs when the fan-out was skipped (no matches, dry run), not when it failed
    @task(trigger_rule="none_failed")
    def summarise_day(prepared: dict, sent: list[dict]) -> dict:
        from watchlist_screening.day import summarise_day as summarise

        return summarise(prepared, list(sent))

    model = ensure_model(prepared)
    scored = score_day(prepared, model)
    batches = plan_alert_batches(prepared, scored)
    sent = send_alerts.expand(batch=batches)
    prepared >> normalise >> model
    summarise_day(prepared, sent)


watchlist_screening()
