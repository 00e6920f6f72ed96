"""The bodies of the DAG's tasks for one scan day. The DAG file only wires these up;
tests call them directly.

Each body reads the settings once and passes them down, and runs under `task_body`, the
one place where a PermanentError (retrying cannot fix it) fails the task at once with its
reason; everything else propagates to the retry policy."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path

from watchlist_screening.errors import PermanentError
from watchlist_screening.orchestration.connections import alerting_endpoint, warehouse_dsn
from watchlist_screening.orchestration.failures import task_body
from watchlist_screening.pipeline_settings import Settings, privacy_mode

log = logging.getLogger(__name__)


def _variable(name: str) -> str | None:
    from airflow.sdk import Variable

    try:
        return Variable.get(name, default=None)
    except Exception:  # no metadata DB / API server reachable: fall back to the environment
        return None


@task_body
def prepare_day(params: dict, ds: str) -> dict:
    from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations

    settings = Settings.from_env()
    try:
        scan_day = dt.date.fromisoformat(params.get("date") or ds)
    except ValueError as exc:
        raise PermanentError(f"param 'date' must be YYYY-MM-DD: {exc}") from exc
    landing_dir = Path(params.get("landing_dir") or _variable("watchlist_landing_dir") or settings.landing_dir)
    if not (landing_dir / "watchlist" / "watchlist.jsonl").is_file():
        raise PermanentError(f"landing dir {landing_dir} has no watchlist/watchlist.jsonl: check param "
                             "'landing_dir' or the variable/env WATCHLIST_LANDING_DIR")
    try:
        mode = privacy_mode(params.get("privacy_mode") or settings.privacy_mode)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    threshold = params.get("match_threshold")
    if threshold is None:
        threshold = float(_variable("watchlist_match_threshold") or settings.match_threshold)
    applied = apply_migrations(warehouse_dsn(settings), SQL_ROOT / "warehouse")
    log.info("scan day %s from %s (%s mode); migrations applied now: %s", scan_day, landing_dir, mode,
             applied or "none")
    return {
        "scan_day": scan_day.isoformat(),
        "landing_dir": str(landing_dir),
        "day_dir": str(landing_dir / "passengers" / scan_day.isoformat()),
        "match_threshold": float(threshold),
        "retrain": bool(params.get("retrain")),
        "dry_run": bool(params.get("dry_run")),
        "privacy_mode": mode,
    }


def _run_settings(prepared: dict) -> Settings:
    """The settings with the run's privacy mode (the DAG param wins over the environment)."""
    settings = Settings.from_env()
    return dataclasses.replace(settings, privacy_mode=prepared.get("privacy_mode") or settings.privacy_mode)


def review_labels(settings: Settings) -> list[dict] | None:
    """Every reviewer decision so far, for training; None without a label token or when the
    service cannot answer (screening never waits for labels: the model trains without them
    and takes them up on a later day)."""
    from watchlist_screening.alerts.client import AlertClient, AlertDeliveryError

    endpoint = alerting_endpoint(settings)
    if not endpoint.label_token:
        log.info("no label token (connection alerting_service extra label_token / ALERTS_LABEL_TOKEN): "
                 "training without reviewer labels")
        return None
    try:
        with AlertClient(endpoint.base_url, endpoint.label_token) as client:
            labels, _ = client.fetch_review_labels()
    except AlertDeliveryError as exc:
        log.warning("reviewer labels unavailable (%s): training without them", exc)
        return None
    log.info("%d reviewer decision(s) available for training", len(labels))
    return labels


@task_body
def ensure_model(prepared: dict) -> str | None:
    """The model version to score the day with; None on a fresh warehouse (no model yet)
    whose day has no passenger or no watchlist entry: nothing to train on, nothing to score,
    and the day still finishes with its summary (the contract calls an empty day valid)."""
    from watchlist_screening.linkage.screen_day import ensure_model as ensure

    settings = _run_settings(prepared)
    try:
        return ensure(warehouse_dsn(settings), dt.date.fromisoformat(prepared["scan_day"]), settings.model_dir,
                      retrain=prepared["retrain"], max_age_days=settings.model_max_age_days,
                      labels=review_labels(settings), match_threshold=prepared["match_threshold"],
                      settings=settings)
    except ValueError as exc:  # a model or setting the day cannot be trained with
        raise PermanentError(str(exc)) from exc


@task_body
def score_day(prepared: dict, model_version: str | None) -> dict:
    from watchlist_screening.linkage.screen_day import score_day as score

    settings = _run_settings(prepared)
    try:
        result = score(warehouse_dsn(settings), dt.date.fromisoformat(prepared["scan_day"]), model_version,
                       prepared["match_threshold"], settings=settings)
    except ValueError as exc:  # no such model, or a setting out of range
        raise PermanentError(str(exc)) from exc
    log.info("scored %s: %d passengers, %d candidate pairs, %d matches in %d group(s) (model %s, watchlist v%d)",
             result.day, result.passengers, result.candidate_pairs, result.matches, result.groups,
             result.model_version or "none: nothing to train on", result.watchlist_version)
    return {"matches": result.matches, "candidate_pairs": result.candidate_pairs,
            "model_version": result.model_version, "watchlist_version": result.watchlist_version}


def run_report_url(scan_day: str, settings: Settings) -> str:
    """Where the day's run report is (or will be) opened; alerts link to their section."""
    from watchlist_screening.reporting.links import report_url, run_report_path

    return report_url(run_report_path(settings.report_dir, scan_day), settings.report_base_url)


@task_body
def write_reports(prepared: dict, scored: dict) -> dict:
    """The model's report and the day's run report (a waterfall chart per alert), where the
    alerts' links lead. Runs beside the fan-out: alerts never wait for a report."""
    from watchlist_screening.reporting.links import model_report_path, report_url
    from watchlist_screening.reporting.model_report import write_model_report_from_registry
    from watchlist_screening.reporting.run_report import write_run_report_for_day, write_run_report_without_model

    settings = Settings.from_env()
    day = dt.date.fromisoformat(prepared["scan_day"])
    if scored["model_version"] is None:
        from watchlist_screening.alerts.planning import NO_MODEL

        path = write_run_report_without_model(settings.report_dir, day, NO_MODEL, scored["candidate_pairs"])
        log.info("no model (nothing to train on): no model report; run report %s", path)
        return {"run_report": run_report_url(prepared["scan_day"], settings)}
    dsn = warehouse_dsn(settings)
    model = write_model_report_from_registry(dsn, settings.report_dir, scored["model_version"])
    run = write_run_report_for_day(dsn, settings.report_dir, day, base_url=settings.report_base_url)
    urls = {"model_report": report_url(model_report_path(settings.report_dir, scored["model_version"]),
                                       settings.report_base_url),
            "run_report": run_report_url(prepared["scan_day"], settings)}
    log.info("model report %s (%s); run report %s (%s)", model, urls["model_report"], run, urls["run_report"])
    return urls


@task_body
def plan_alert_batches(prepared: dict, scored: dict) -> list[dict]:
    from watchlist_screening.alerts import delivery, planning

    if prepared["dry_run"]:
        log.info("dry run: %d matches scored, no alerts sent", scored["matches"])
        return []
    settings = Settings.from_env()
    run, batches = planning.plan_batches(prepared["scan_day"], scored["matches"], scored.get("model_version"),
                                         settings.alert_batch_size, run_report_url(prepared["scan_day"], settings))
    for batch in batches:   # an encoded day's alerts carry no name or date (payload.key_fields)
        batch["privacy_mode"] = prepared.get("privacy_mode", "clear")
    if not batches:
        # No batch will run: the withdrawal of the day's earlier alerts happens here.
        endpoint = alerting_endpoint(settings)
        delivery.complete_empty_day(endpoint.base_url, endpoint.token, prepared["scan_day"], run["run_id"],
                                    run["model_version"], run["planned_at"], settings.alert_transport,
                                    endpoint.grpc_target)
    return batches


@task_body
def send_alert_batch(batch: dict) -> dict:
    from watchlist_screening.alerts import delivery
    from watchlist_screening.alerts.client import NonRetryableAlertError

    settings = Settings.from_env()
    endpoint = alerting_endpoint(settings)
    try:
        sent = delivery.send_batch(warehouse_dsn(settings), endpoint.base_url, endpoint.token, batch,
                                   settings.alert_transport, endpoint.grpc_target)
    except NonRetryableAlertError as exc:
        raise PermanentError(f"alerting service rejected batch {batch['index']} of {batch['scan_day']}: {exc}") from exc
    if sent["refusals"]:
        # The rest of the batch is delivered; the task fails (no retry: the same data is
        # refused again) so that on-call hears of every refused alert.
        raise PermanentError(delivery.describe_refusals(batch, sent))
    return sent


@task_body
def summarise_day(prepared: dict, sent: list[dict], run_id: str, reports: dict | None = None) -> dict:
    from watchlist_screening.orchestration.task_timing import read_steps
    from watchlist_screening.reporting import summary_page
    from watchlist_screening.reporting.run_summary import record_alerts_sent

    settings = Settings.from_env()
    dsn = warehouse_dsn(settings)
    day = dt.date.fromisoformat(prepared["scan_day"])
    summary = record_alerts_sent(dsn, day, sum(s["accepted"] for s in sent if s))
    steps = read_steps(dsn, day, run_id)
    report = summary_page.write(settings.report_dir, summary, steps)
    reasons = ", ".join(f"{k}={v}" for k, v in sorted(summary["quarantined_by_reason"].items())) or "none"
    log.info("RUN SUMMARY %s", json.dumps(summary))
    log.info("quarantined %d line(s) by reason: %s", summary["quarantined"], reasons)
    for step in steps:
        log.info("wall time %-20s %8.1f s (%d instance(s))", step["task_id"], step["seconds"], step["tasks"])
    log.info("run summary report: %s", report)
    for name, url in (reports or {}).items():
        log.info("%s: %s", name.replace("_", " "), url)
    return {**summary, "report": str(report), **{f"{k}_url": v for k, v in (reports or {}).items()}}
