"""The bodies of the DAG's tasks for one scan day. The DAG file only wires these up;
tests call them directly. Errors that a retry cannot fix become AirflowFailException
(fail fast, with the reason); everything else propagates and is retried."""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
from pathlib import Path

from watchlist_screening.airflow_config import alerting_endpoint, warehouse_dsn
from watchlist_screening.config import Settings

log = logging.getLogger(__name__)
MAX_ALERT_BATCHES = 1000  # far below Airflow's max_map_length (1024)
# The model a run names at the alerting service (withdrawn_by_model) when the day had no
# model: a fresh warehouse whose day has nothing to train on. The run summary says null.
NO_MODEL = "none (nothing to train on)"


def _fail(message: str):
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


def _variable(name: str) -> str | None:
    from airflow.sdk import Variable

    try:
        return Variable.get(name, default=None)
    except Exception:  # no metadata DB / API server reachable: fall back to the environment
        return None


def prepare_day(params: dict, ds: str) -> dict:
    from watchlist_screening.warehouse.migrate import SQL_ROOT, apply_migrations

    settings = Settings.from_env()
    try:
        scan_day = dt.date.fromisoformat(params.get("date") or ds)
    except ValueError as exc:
        raise _fail(f"param 'date' must be YYYY-MM-DD: {exc}") from exc
    landing_dir = Path(params.get("landing_dir") or _variable("watchlist_landing_dir") or settings.landing_dir)
    if not (landing_dir / "watchlist" / "watchlist.jsonl").is_file():
        raise _fail(f"landing dir {landing_dir} has no watchlist/watchlist.jsonl: check param 'landing_dir' "
                    "or the variable/env WATCHLIST_LANDING_DIR")
    threshold = params.get("match_threshold")
    if threshold is None:
        threshold = float(_variable("watchlist_match_threshold") or settings.match_threshold)
    applied = apply_migrations(warehouse_dsn(), SQL_ROOT / "warehouse")
    log.info("scan day %s from %s; migrations applied now: %s", scan_day, landing_dir, applied or "none")
    return {
        "scan_day": scan_day.isoformat(),
        "landing_dir": str(landing_dir),
        "day_dir": str(landing_dir / "passengers" / scan_day.isoformat()),
        "match_threshold": float(threshold),
        "retrain": bool(params.get("retrain")),
        "dry_run": bool(params.get("dry_run")),
    }


def review_labels() -> list[dict] | None:
    """Every reviewer decision so far, for training; None without a label token or when the
    service cannot answer (screening never waits for labels: the model trains without them
    and takes them up on a later day)."""
    from watchlist_screening.alerts.client import AlertClient, AlertDeliveryError

    endpoint = alerting_endpoint()
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


def ensure_model(prepared: dict) -> str | None:
    """The model version to score the day with; None on a fresh warehouse (no model yet)
    whose day has no passenger or no watchlist entry: nothing to train on, nothing to score,
    and the day still finishes with its summary (the contract calls an empty day valid)."""
    from watchlist_screening.linkage.screen_day import DayNotLoaded, ensure_model as ensure

    settings = Settings.from_env()
    try:
        return ensure(warehouse_dsn(), dt.date.fromisoformat(prepared["scan_day"]), settings.model_dir,
                      retrain=prepared["retrain"], max_age_days=settings.model_max_age_days,
                      labels=review_labels(), match_threshold=prepared["match_threshold"])
    except (DayNotLoaded, ValueError) as exc:
        raise _fail(str(exc)) from exc


def score_day(prepared: dict, model_version: str | None) -> dict:
    from watchlist_screening.linkage.screen_day import DayNotLoaded, score_day as score

    try:
        result = score(warehouse_dsn(), dt.date.fromisoformat(prepared["scan_day"]), model_version,
                       prepared["match_threshold"])
    except (DayNotLoaded, ValueError) as exc:
        raise _fail(str(exc)) from exc
    log.info("scored %s: %d passengers, %d candidate pairs, %d matches in %d group(s) (model %s, watchlist v%d)",
             result.day, result.passengers, result.candidate_pairs, result.matches, result.groups,
             result.model_version or "none: nothing to train on", result.watchlist_version)
    return {"matches": result.matches, "candidate_pairs": result.candidate_pairs,
            "model_version": result.model_version, "watchlist_version": result.watchlist_version}


def run_report_url(scan_day: str) -> str:
    """Where the day's run report is (or will be) opened; alerts link to their section."""
    from watchlist_screening.linkage.report_links import report_url, run_report_path

    settings = Settings.from_env()
    return report_url(run_report_path(settings.report_dir, scan_day), settings.report_base_url)


def write_reports(prepared: dict, scored: dict) -> dict:
    """The model's report and the day's run report (a waterfall chart per alert), where the
    alerts' links lead. Runs beside the fan-out: alerts never wait for a report."""
    from watchlist_screening.linkage.reports import (
        model_report_path,
        report_url,
        write_model_report_from_registry,
        write_run_report_for_day,
    )

    settings = Settings.from_env()
    dsn, day = warehouse_dsn(), dt.date.fromisoformat(prepared["scan_day"])
    if scored["model_version"] is None:
        return {"run_report": _write_run_report_without_model(settings, prepared, scored)}
    model = write_model_report_from_registry(dsn, settings.report_dir, scored["model_version"])
    run = write_run_report_for_day(dsn, settings.report_dir, day, base_url=settings.report_base_url)
    urls = {"model_report": report_url(model_report_path(settings.report_dir, scored["model_version"]),
                                       settings.report_base_url),
            "run_report": run_report_url(prepared["scan_day"])}
    log.info("model report %s (%s); run report %s (%s)", model, urls["model_report"], run, urls["run_report"])
    return urls


def _write_run_report_without_model(settings: Settings, prepared: dict, scored: dict) -> str:
    """The run report of a day scored without a model (nothing to train on): no alert, no
    model report. It replaces an earlier run's report of the day, whose alerts are withdrawn."""
    from watchlist_screening.linkage.report_links import run_report_path
    from watchlist_screening.linkage.reports import run_report_html

    path = run_report_path(settings.report_dir, prepared["scan_day"])
    page = run_report_html(prepared["scan_day"], NO_MODEL, {"comparisons": []}, [],
                           {"candidate pairs": scored["candidate_pairs"]})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)  # readers never see half a page
    log.info("no model (nothing to train on): no model report; run report %s", path)
    return run_report_url(prepared["scan_day"])


def plan_alert_batches(prepared: dict, scored: dict) -> list[dict]:
    if prepared["dry_run"]:
        log.info("dry run: %d matches scored, no alerts sent", scored["matches"])
        return []
    total = scored["matches"]
    size = max(Settings.from_env().alert_batch_size, math.ceil(total / MAX_ALERT_BATCHES))
    report = run_report_url(prepared["scan_day"])
    from watchlist_screening.fanout import complete_empty_day, new_run_id

    # The service orders a day's runs by when they were planned: only the newest withdraws.
    # A day without a model (nothing to train on) names NO_MODEL as the run's model.
    run_id, model = new_run_id(), scored.get("model_version") or NO_MODEL
    planned_at = dt.datetime.now(dt.timezone.utc).isoformat()
    offsets = range(0, total, size)
    if not offsets:
        # No batch will run: the withdrawal of the day's earlier alerts happens here.
        endpoint = alerting_endpoint()
        complete_empty_day(endpoint.base_url, endpoint.token, prepared["scan_day"], run_id, model, planned_at)
    return [{"scan_day": prepared["scan_day"], "index": i, "offset": off, "limit": size, "run_report_url": report,
             "run_id": run_id, "batches": len(offsets), "model_version": model, "planned_at": planned_at}
            for i, off in enumerate(offsets)]


def send_alert_batch(batch: dict) -> dict:
    from watchlist_screening.alerts.client import NonRetryableAlertError
    from watchlist_screening.fanout import send_batch

    endpoint = alerting_endpoint()
    try:
        sent = send_batch(warehouse_dsn(), endpoint.base_url, endpoint.token, batch)
    except NonRetryableAlertError as exc:
        raise _fail(f"alerting service rejected batch {batch['index']} of {batch['scan_day']}: {exc}") from exc
    if sent["refusals"]:
        # The rest of the batch is delivered; each refused alert is a sighting nobody will
        # see, so the task fails (no retry: the same data is refused again) and pages on-call.
        for r in sent["refusals"]:
            log.error("ALERT REFUSED day %s scan_id=%r subject_id=%r: %s", batch["scan_day"], r["scan_id"],
                      r["subject_id"], r["reason"])
        named = "; ".join(f"scan_id={r['scan_id']!r} subject_id={r['subject_id']!r}: {r['reason']}"
                          for r in sent["refusals"][:10])
        more = f" (and {len(sent['refusals']) - 10} more)" if len(sent["refusals"]) > 10 else ""
        raise _fail(f"alerting service refused {sent['refused']} alert(s) of batch {batch['index']} of "
                    f"{batch['scan_day']} (the other {sent['accepted']} were delivered): {named}{more}")
    return sent


def summarise_day(prepared: dict, sent: list[dict], run_id: str, reports: dict | None = None) -> dict:
    from watchlist_screening import summary_report
    from watchlist_screening.run_summary import record_alerts_sent
    from watchlist_screening.steps import read_steps

    dsn = warehouse_dsn()
    day = dt.date.fromisoformat(prepared["scan_day"])
    summary = record_alerts_sent(dsn, day, sum(s["accepted"] for s in sent if s))
    steps = read_steps(dsn, day, run_id)
    report = summary_report.write(Settings.from_env().report_dir, summary, steps)
    reasons = ", ".join(f"{k}={v}" for k, v in sorted(summary["quarantined_by_reason"].items())) or "none"
    log.info("RUN SUMMARY %s", json.dumps(summary))
    log.info("quarantined %d line(s) by reason: %s", summary["quarantined"], reasons)
    for step in steps:
        log.info("wall time %-20s %8.1f s (%d instance(s))", step["task_id"], step["seconds"], step["tasks"])
    log.info("run summary report: %s", report)
    for name, url in (reports or {}).items():
        log.info("%s: %s", name.replace("_", " "), url)
    return {**summary, "report": str(report), **{f"{k}_url": v for k, v in (reports or {}).items()}}
