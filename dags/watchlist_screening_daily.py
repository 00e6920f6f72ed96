"""
### Watchlist screening — one passenger day per run

Reads the day's airport scanner files from the landing zone, normalises them with Spark
into Postgres, links the passengers against the watchlist with a Splink model, and sends
every match to the alerting service. A run for a day replaces that day's rows; alerts are
idempotent by (scan_id, subject_id), so any task can be cleared and re-run, and any range
of days backfilled.

| task | module | does | when it fails |
|---|---|---|---|
| `prepare_day` | `orchestration/tasks.py` | resolves the day and landing dir, applies warehouse migrations | landing dir or Postgres unreachable: fix param/variable `watchlist_landing_dir` or connection `warehouse_postgres`, clear |
| `wait_for_landing_files` | `orchestration/landing_sensor.py` | waits (deferred to the triggerer) until the day's airport files exist | files not due in time: check the airports' uploads; an empty day: re-run with `landing_wait_minutes=0` |
| `normalise` | `spark/normalise_day.py` → `normalise/job.py` | Spark: validate, clean, load passengers / watchlist / quarantine | too many bad lines: read `warehouse.quarantine` for the day, fix the feed, clear |
| `ensure_model` | `orchestration/tasks.py` → `linkage/screen_day.py` | reuses the current model or trains one (`retrain`, too old, another watchlist version); with no model yet and nothing to train on (no passenger or no watchlist entry) trains none and the day finishes with 0 matches | — |
| `score_day` | `orchestration/tasks.py` → `linkage/screen_day.py` | photo-neighbour candidates, Splink scores, groups (people seen), matches into `warehouse.matches` | clear; the day's matches are replaced |
| `write_reports` | `orchestration/tasks.py` → `reporting/model_report.py`, `reporting/run_report.py` | the model report and the day's run report (waterfall per alert), where alerts link | clear; alerts do not wait for it |
| `plan_alert_batches` / `send_alerts` | `orchestration/tasks.py` → `alerts/planning.py`, `alerts/delivery.py` | fans matches out in mapped batches (pool `alerting_service`) | service down: retried with backoff; clear failed batches, nothing is sent twice |
| `summarise_day` | `orchestration/tasks.py` → `reporting/run_summary.py`, `reporting/summary_page.py` | run summary: counts, quarantine reasons, wall time per task; HTML report | — |

Modules are under `include/watchlist_screening/`. Transient errors (database connection, network, the alerting service's 429/5xx) are
retried with exponential backoff; everything else fails at once with the reason.
"""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import (
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    Param,
    SyncCallback,
    dag,
    task,
)

from watchlist_screening.orchestration.landing_sensor import LandingFilesSensor
from watchlist_screening.orchestration.retry import TransientErrorsOnly
from watchlist_screening.pipeline_settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
ALERTING_POOL = "alerting_service"
SCAN_DAY = "{{ params.date or ds }}"
PREPARED = "ti.xcom_pull(task_ids='prepare_day')"
SETTINGS = Settings.from_env()

# On-call hears of a day not screened this many hours after it ended. The reference is
# the logical date (= the day's start): "done by a time of day" is what on-call is promised,
# and Airflow 3.3's Clear breaks on DAGRUN_QUEUED_AT deadlines (apache/airflow#70368) but
# leaves logical-date ones alone. 0 turns the alert off.
DEADLINE_HOURS = SETTINGS.deadline_hours


def _on_execute(context):
    from watchlist_screening.orchestration.task_resources import on_task_start

    on_task_start(context)


def _on_failure(context):
    from watchlist_screening.orchestration.oncall import OnCallNotifier
    from watchlist_screening.orchestration.task_resources import finish

    finish(context)   # the watch's thread ends with the try it watched
    OnCallNotifier().notify(context)


def _on_success(context):
    from watchlist_screening.orchestration.task_timing import on_task_success

    on_task_success(context)


@dag(
    dag_id="watchlist_screening",
    # data intervals: the run for day D starts once D is over and has ds = D
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=3,
    doc_md=__doc__,
    tags=["watchlist", "screening"],
    default_args={
        "retries": 3,
        "retry_delay": dt.timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=10),
        "retry_policy": TransientErrorsOnly(),
        "on_execute_callback": _on_execute,
        "on_failure_callback": _on_failure,
        "on_success_callback": _on_success,
    },
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=dt.timedelta(days=1, hours=DEADLINE_HOURS),
        callback=SyncCallback("watchlist_screening.orchestration.oncall.notify_deadline_missed"),
    ) if DEADLINE_HOURS > 0 else None,
    params={
        "date": Param(None, type=["null", "string"], format="date",
                      description="Screen this day (YYYY-MM-DD) instead of the run's date"),
        "landing_dir": Param(None, type=["null", "string"],
                             description="Landing directory (default: variable watchlist_landing_dir, then $WATCHLIST_LANDING_DIR)"),
        "landing_wait_minutes": Param(360, type="integer", minimum=0,
                                      description="How long after the day ends its files may arrive; 0 = don't wait (an empty day)"),
        "retrain": Param(False, type="boolean", description="Train a new model from this day"),
        "match_threshold": Param(None, type=["null", "number"], minimum=0, maximum=1,
                                 description="Alert at or above this match probability (default: variable/env)"),
        "dry_run": Param(False, type="boolean", description="Score, but send no alerts"),
        "privacy_mode": Param(None, type=["null", "string"], enum=[None, "clear", "encoded"],
                              description="clear (the data contract) or encoded (the edge encoder's CLKs and "
                                          "templates, issue 17); default: $WATCHLIST_PRIVACY_MODE, else clear"),
    },
)
def watchlist_screening():
    @task
    def prepare_day(params=None, ds=None) -> dict:
        from watchlist_screening.orchestration.tasks import prepare_day as prepare

        return prepare(params or {}, ds)

    prepared = prepare_day()

    wait_for_landing_files = LandingFilesSensor(
        task_id="wait_for_landing_files",
        day_dir="{{ " + PREPARED + "['day_dir'] }}",
        scan_day=SCAN_DAY,
        wait_minutes="{{ params.landing_wait_minutes }}",
        # deferred to the triggerer, which looks this often; it fails itself when files are late
        poke_interval=SETTINGS.landing_poll_seconds,
        timeout=dt.timedelta(days=2).total_seconds(),  # backstop
        retry_policy=None,
        retries=0,
    )

    normalise = SparkSubmitOperator(
        task_id="normalise",
        conn_id="spark_default",
        application=str(REPO_ROOT / "spark" / "normalise_day.py"),
        name="watchlist-normalise-" + SCAN_DAY,
        application_args=["--date", SCAN_DAY, "--landing-dir", "{{ " + PREPARED + "['landing_dir'] }}",
                          "--privacy-mode", "{{ " + PREPARED + "['privacy_mode'] }}"],
        # secrets go through the environment, never the (logged) command line
        env_vars={
            "WAREHOUSE_DSN": "{{ conn.warehouse_postgres.get_uri() }}",
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        },
        conf={"spark.sql.session.timeZone": "UTC", "spark.driver.memory": "4g"},
        # spark-submit reports every failure alike: retry once (a bad-data failure fails again)
        retries=1,
        retry_policy=None,
    )

    @task
    def ensure_model(prepared: dict) -> str | None:
        from watchlist_screening.orchestration.tasks import ensure_model as ensure

        return ensure(prepared)

    @task
    def score_day(prepared: dict, model_version: str | None) -> dict:
        from watchlist_screening.orchestration.tasks import score_day as score

        return score(prepared, model_version)

    @task
    def write_reports(prepared: dict, scored: dict) -> dict:
        from watchlist_screening.orchestration.tasks import write_reports as write

        return write(prepared, scored)

    @task
    def plan_alert_batches(prepared: dict, scored: dict) -> list[dict]:
        from watchlist_screening.orchestration.tasks import plan_alert_batches as plan

        return plan(prepared, scored)

    @task(pool=ALERTING_POOL, max_active_tis_per_dagrun=4)
    def send_alerts(batch: dict) -> dict:
        from watchlist_screening.orchestration.tasks import send_alert_batch

        return send_alert_batch(batch)

    # runs when the fan-out was skipped (no matches, dry run), not when it failed
    @task(trigger_rule="none_failed")
    def summarise_day(prepared: dict, sent: list[dict], reports: dict, run_id=None) -> dict:
        from watchlist_screening.orchestration.tasks import summarise_day as summarise

        return summarise(prepared, list(sent), run_id, reports)

    model = ensure_model(prepared)
    scored = score_day(prepared, model)
    batches = plan_alert_batches(prepared, scored)
    sent = send_alerts.expand(batch=batches)
    reports = write_reports(prepared, scored)
    prepared >> wait_for_landing_files >> normalise >> model
    summarise_day(prepared, sent, reports)


watchlist_screening()
