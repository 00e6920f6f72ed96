"""The linkage stage of one day, as the DAG's tasks call it: make sure a model exists,
then score the day against the watchlist version it was loaded with and store matches."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
from psycopg.types.json import Jsonb

from watchlist_screening.errors import PermanentError
from watchlist_screening.linkage import candidate_cache, candidates, grouping, registry, reviewer_labels, scoring, tables, training
from watchlist_screening.pipeline_settings import Settings

log = logging.getLogger(__name__)


class DayNotLoaded(PermanentError):
    """The normalisation step has not produced this day yet."""


@dataclass(frozen=True)
class ScoreResult:
    day: dt.date
    watchlist_version: int
    model_version: str | None  # None: no model yet, and the day had nothing to train on or score
    passengers: int
    candidate_pairs: int
    matches: int
    groups: int = 0


def day_watchlist_version(dsn: str, day: dt.date) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT watchlist_version FROM warehouse.day_runs WHERE scan_day = %s", (day,)).fetchone()
    if not row or row[0] is None:
        raise DayNotLoaded(f"day {day} has not been normalised (no warehouse.day_runs row): run the normalise task first")
    return row[0]


ENGINES = ("duckdb", "spark")


def linkage_engine(engine: str | None = None, settings: Settings | None = None) -> str:
    """The engine candidates and scoring run on: `engine`, else WATCHLIST_LINKAGE_ENGINE,
    else DuckDB (one machine; Spark for days and watchlists that outgrow it)."""
    engine = engine or (settings or Settings.from_env()).linkage_engine or "duckdb"
    if engine not in ENGINES:
        raise ValueError(f"WATCHLIST_LINKAGE_ENGINE must be one of {ENGINES}, not {engine!r}")
    return engine


def check_mode(dsn: str, day: dt.date, watchlist_version: int, settings: Settings, engine: str | None = None) -> str:
    """The privacy mode the day was loaded in, when it is the run's (WATCHLIST_PRIVACY_MODE
    or the DAG param); PermanentError otherwise, or for the Spark engine on an encoded day
    (its comparisons are the clear ones)."""
    from watchlist_screening.linkage.encoded_tables import day_mode
    from watchlist_screening.pipeline_settings import privacy_mode

    loaded = day_mode(dsn, day, watchlist_version)
    wanted = privacy_mode(settings.privacy_mode)
    if loaded != wanted:
        raise PermanentError(f"day {day} was normalised in {loaded} mode, but this run links in {wanted} mode "
                             f"(WATCHLIST_PRIVACY_MODE / param 'privacy_mode'): re-run the day's normalise in "
                             f"{wanted} mode, or link it in {loaded} mode")
    if loaded == "encoded" and linkage_engine(engine, settings) == "spark":
        raise PermanentError("the Spark linkage engine links clear days only: set WATCHLIST_LINKAGE_ENGINE=duckdb "
                             "for encoded days")
    return loaded


def _spark_session(settings: Settings):
    from watchlist_screening.linkage import spark_linkage

    return spark_linkage.create_session(settings=settings)


def candidate_settings(settings: Settings) -> candidates.CandidateConfig:
    """The candidate search as the pipeline's settings configure it."""
    return candidates.CandidateConfig(photo_blocking=settings.photo_blocking)


def linkage_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A DuckDB held to the pipeline's memory budget, spilling past it (the full-scale
    day's training task peaked over 12 GB on DuckDB's default budget)."""
    if settings.duckdb_memory_gb <= 0:
        raise ValueError(f"WATCHLIST_DUCKDB_MEMORY_GB must be positive, not {settings.duckdb_memory_gb}")
    settings.duckdb_spill_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{settings.duckdb_memory_gb:g}GB'")
    con.execute("SET temp_directory = ?", [str(settings.duckdb_spill_dir)])
    return con


def _prepared(dsn: str, day: dt.date, watchlist_version: int, config: candidates.CandidateConfig,
              engine: str | None = "duckdb", settings: Settings | None = None):
    """The day and the watchlist in DuckDB, with the candidate pairs searched on `engine`
    (None: none yet, the Spark scoring searches its own)."""
    con = linkage_connection(settings or Settings.from_env())
    counts = tables.load_tables(con, dsn, day, watchlist_version)
    counts["candidate_pairs"] = 0
    if counts[tables.PASSENGERS] and engine == "spark":
        from watchlist_screening.linkage import spark_linkage

        counts["candidate_pairs"] = spark_linkage.candidates_on_spark(_spark_session(settings), con, config)[0]
    elif counts[tables.PASSENGERS] and engine == "duckdb":
        counts["candidate_pairs"] = _duckdb_candidates(con, day, config, settings)
    return con, counts


def _duckdb_candidates(con, day: dt.date, config: candidates.CandidateConfig, settings: Settings | None) -> int:
    """The day's candidate pairs, from the cache the day's other task left when the inputs
    are the same (candidate_cache.py), else searched and left there for it."""
    directory = settings.candidate_cache_dir if settings else None
    wanted = candidate_cache.key(con, config) if directory else None
    if directory and candidate_cache.load(con, directory, day, wanted):
        return candidates.blocked_pairs_for_splink(con)
    found = candidates.build_candidates(con, config)
    candidate_cache.store(con, directory, day, wanted)
    return found


def ensure_model(dsn: str, day: dt.date, model_dir: Path, retrain: bool = False, max_age_days: int = 30,
                 candidate_config: candidates.CandidateConfig | None = None, *,
                 labels: list[dict] | None = None, match_threshold: float | None = None,
                 engine: str | None = None, method: str | None = None,
                 settings: Settings | None = None) -> str | None:
    """Return the model version to score `day` with, training one from the day if asked,
    if there is none, if the current one is older than `max_age_days`, or if `labels`
    (reviewer decisions as AlertClient.fetch_review_labels returns them) hold decisions the
    current model was not trained with. Labels refine the identity comparisons' m and
    recommend a threshold (reviewer_labels.py); `match_threshold` is the one their effect is
    reported at (default: the pipeline's, WATCHLIST_MATCH_THRESHOLD). Training itself runs on
    DuckDB (one day's candidates and a sample of pairs); `engine` is where the candidate
    search runs.

    None when there is no model yet and the day has nothing to train on (no passengers or
    no watchlist entry): such a day is valid and has nothing to score either (score_day).
    `settings`: the pipeline's (read here when not given)."""
    settings = settings or Settings.from_env()
    watchlist_version = day_watchlist_version(dsn, day)
    if check_mode(dsn, day, watchlist_version, settings, engine) == "encoded" and labels:
        # reviewer labels refine the clear identity comparisons from clear records
        log.info("encoded mode: %d reviewer label(s) not used (they refine clear identity fields)", len(labels))
        labels = None
    candidate_config = candidate_config or candidate_settings(settings)
    current = registry.load_model(dsn)
    label_set = reviewer_labels.fingerprint(labels)
    if current and not retrain:
        age = (dt.datetime.now(dt.timezone.utc) - current.trained_at).days
        seen = registry.training_notes(dsn, current.version).get("labels", {}).get("fingerprint")
        if age > max_age_days:
            log.info("model %s is %d days old (> %d): retraining", current.version, age, max_age_days)
        elif current.watchlist_version != watchlist_version:
            # u, λ and the photo levels describe the list the model was fitted on: another
            # list (other people, other size) makes them wrong before any day is scored.
            log.info("model %s was fitted on watchlist version %s, the day has version %s: retraining",
                     current.version, current.watchlist_version, watchlist_version)
        elif label_set is not None and label_set != seen:
            log.info("model %s has not seen the current reviewer labels: retraining", current.version)
        else:
            log.info("reusing model %s (trained %d days ago on watchlist version %s, the day's): "
                     "no newer labels, within %d days", current.version, age, watchlist_version, max_age_days)
            return current.version
    con, counts = _prepared(dsn, day, watchlist_version, candidate_config, linkage_engine(engine, settings), settings)
    if counts[tables.PASSENGERS] == 0 or counts[tables.WATCHLIST] == 0:
        if current:
            log.warning("day %s has no passengers to train on: keeping model %s", day, current.version)
            return current.version
        con.close()
        log.info("no model trained: nothing to train on (day %s has %d passengers, %d watchlist entries) "
                 "and there is no model yet; the day has nothing to score", day, counts[tables.PASSENGERS],
                 counts[tables.WATCHLIST])
        return None
    model, notes = train_model(con, counts, method, settings)
    con.close()
    if label_set is not None:
        if match_threshold is None:
            match_threshold = settings.match_threshold
        label_con = reviewer_labels.load_labelled_records(dsn, labels, watchlist_version)
        model, notes["labels"] = reviewer_labels.apply_labels(label_con, model, labels, match_threshold)
        label_con.close()
    version = registry.save_model(dsn, model_dir, model, notes, day, day, watchlist_version)
    log.info("trained model %s on %s: %s", version, day, notes["parameters"])
    return version


def train_model(con, counts: dict, method: str | None = None, settings: Settings | None = None) -> tuple[dict, dict]:
    """The configured trainer (WATCHLIST_TRAINING_METHOD, or `method`) on the day loaded
    in `con` with its candidates; the pipeline and the benches train through here."""
    settings = settings or Settings.from_env()
    method = method or settings.training_method
    from watchlist_screening.linkage.encoded_tables import is_encoded

    encoded = is_encoded(con)
    if method == "em" or encoded:
        from watchlist_screening.linkage import em_training

        from watchlist_screening.linkage.encoded_comparisons import encoded_identity

        # an encoded day's identity levels read Dice of CLKs; the trainer is the same
        config = em_training.EMTrainingConfig(miss_cost=settings.miss_cost,
                                              identity=encoded_identity() if encoded else None)
        model, notes = em_training.train(con, counts, config)
        learnt_from = notes["parameters"]["em"]["session_1"]["expected_matches"]
        if learnt_from >= config.min_expected_matches or encoded:
            # the stated priors (training.py) are priors of clear names and dates: an
            # encoded day is always learnt from itself, however few its matches
            if encoded and learnt_from < config.min_expected_matches:
                log.warning("encoded day: %.1f expected matches, under the %d EM wants, but the stated priors "
                            "describe clear fields: training with EM anyway", learnt_from, config.min_expected_matches)
            notes["trainer"] = "em (encoded identity: Dice of CLKs)" if encoded else "em"
            return model, notes
        # Ten sightings cannot teach eight comparisons: measured on 10-sighting days, the
        # EM model alerted at precision 0.73-0.92 where the stated priors gave 0.85-1.0.
        log.info("the day shows %.1f expected matches, under the %d EM needs: training with the stated "
                 "priors (training.py) instead", learnt_from, config.min_expected_matches)
        model, notes = training.train(con, counts)
        notes["trainer"] = (f"priors: the day showed {learnt_from:.1f} expected matches, "
                            f"under the {config.min_expected_matches} the EM trainer needs")
        return model, notes
    if method != "priors":
        raise ValueError(f"WATCHLIST_TRAINING_METHOD must be 'priors' or 'em', got {method!r}")
    return training.train(con, counts)


def recommended_threshold(dsn: str, model_version: str, default: float) -> float:
    """The threshold reviewer labels recommended for this model, else `default`."""
    value = registry.training_notes(dsn, model_version).get("labels", {}).get("recommended_threshold")
    return float(value) if value is not None else default


def score_day(dsn: str, day: dt.date, model_version: str | None, threshold: float,
              candidate_config: candidates.CandidateConfig | None = None,
              grouping_config: grouping.GroupingConfig | None = None, engine: str | None = None,
              settings: Settings | None = None) -> ScoreResult:
    """Score the day on `engine` (linkage_engine), group its matches into people seen
    (grouping.py: components or cliques over passenger–watchlist, watchlist–watchlist and
    passenger–passenger edges, WATCHLIST_GROUPING_METHOD / _SCOPE), and replace the day's
    matches. `model_version` None (ensure_model found nothing to train on): the day must
    have no passengers or no watchlist entry; it is stored with no match and no model.
    `settings`: the pipeline's (read here when not given)."""
    settings = settings or Settings.from_env()
    candidate_config = candidate_config or candidate_settings(settings)
    if model_version is None:
        return _score_without_model(dsn, day, candidate_config)
    stored = registry.load_model(dsn, model_version)
    if stored is None:
        raise ValueError(f"model {model_version} is not in warehouse.models")
    watchlist_version = day_watchlist_version(dsn, day)
    check_mode(dsn, day, watchlist_version, settings, engine)
    engine = linkage_engine(engine, settings)
    if engine == "spark":
        from watchlist_screening.linkage import spark_linkage

        con, counts = _prepared(dsn, day, watchlist_version, candidate_config, engine=None)
        if counts[tables.PASSENGERS]:
            counts["candidate_pairs"] = spark_linkage.score_on_spark(_spark_session(settings), con, stored.model,
                                                                     threshold, candidate_config)
    else:
        con, counts = _prepared(dsn, day, watchlist_version, candidate_config, settings=settings)
        if counts["candidate_pairs"]:
            scoring.score(con, stored.model, threshold)
    rows, groups = [], 0
    if counts["candidate_pairs"]:
        rows = scoring.match_rows(con)
        if rows:
            rows, groups = group_matches(con, stored.model, rows, threshold,
                                         grouping_config or grouping.GroupingConfig.from_settings(settings, threshold=threshold))
    replace_day_matches(dsn, day, rows, watchlist_version, model_version, counts["candidate_pairs"])
    return ScoreResult(day, watchlist_version, model_version, counts[tables.PASSENGERS], counts["candidate_pairs"],
                       len(rows), groups)


def _score_without_model(dsn: str, day: dt.date, candidate_config: candidates.CandidateConfig) -> ScoreResult:
    watchlist_version = day_watchlist_version(dsn, day)
    con, counts = _prepared(dsn, day, watchlist_version, candidate_config, engine=None)
    con.close()
    if counts[tables.PASSENGERS] and counts[tables.WATCHLIST]:
        raise ValueError(f"no model to score {day} with ({counts[tables.PASSENGERS]} passengers, "
                         f"{counts[tables.WATCHLIST]} watchlist entries): run ensure_model for the day first")
    log.info("day %s scored without a model (%d passengers, %d watchlist entries): no candidate, no match",
             day, counts[tables.PASSENGERS], counts[tables.WATCHLIST])
    replace_day_matches(dsn, day, [], watchlist_version, None, 0)
    return ScoreResult(day, watchlist_version, None, counts[tables.PASSENGERS], 0, 0)


def group_matches(con, model: dict, rows: list[dict], threshold: float,
                  config: grouping.GroupingConfig | None) -> tuple[list[dict], int]:
    """The match rows with the group of their passenger, and the number of groups.

    The grouping threshold is the day's match threshold, so every alerted passenger is a
    node; a passenger the grouping leaves alone keeps scoring's own group."""
    config = config or grouping.GroupingConfig.from_settings(Settings.from_env(), threshold=threshold)
    summary = grouping.group(con, model, config)
    log.info("grouped the day's matches: %s", summary)
    groups = grouping.passenger_groups(con)
    for row in rows:
        row["group_id"] = groups.get(row["scan_id"], row["group_id"])
    return rows, len({row["group_id"] for row in rows})


def replace_day_matches(dsn: str, day: dt.date, rows: list[dict], watchlist_version: int, model_version: str | None,
                        candidate_pairs: int) -> None:
    """Replace the day's matches in one transaction, so a re-run never leaves a mix."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("DELETE FROM warehouse.matches WHERE scan_day = %s", (day,))
        with conn.cursor().copy(
            "COPY warehouse.matches (scan_day, scan_id, subject_id, watchlist_version, model_version, "
            "match_probability, match_weight, photo_similarity, evidence, group_id) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row((day, r["scan_id"], r["subject_id"], watchlist_version, model_version,
                                r["match_probability"], r["match_weight"], r["photo_similarity"],
                                Jsonb(r["evidence"]), f"{day:%Y%m%d}-{r['group_id']}"))
        conn.execute(
            """UPDATE warehouse.day_runs SET candidate_pairs = %s, matches = %s, model_version = %s,
                      alerts_sent = 0, updated_at = now() WHERE scan_day = %s""",
            (candidate_pairs, len(rows), model_version, day),
        )
