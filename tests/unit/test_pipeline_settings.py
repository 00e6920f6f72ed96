"""The one settings object: every variable's name and default, so a move of code never
renames a deployment's knob."""
from __future__ import annotations

import pytest

from watchlist_screening.pipeline_settings import LOCAL_DIR, Settings

VARIABLES = ("WATCHLIST_LANDING_DIR", "WAREHOUSE_DSN", "ALERTS_URL", "ALERTS_PIPELINE_TOKEN", "ALERTS_LABEL_TOKEN",
             "WATCHLIST_MODEL_DIR", "WATCHLIST_REPORT_DIR", "WATCHLIST_REPORT_BASE_URL", "WATCHLIST_MATCH_THRESHOLD",
             "WATCHLIST_MISS_COST", "WATCHLIST_ALERT_BATCH_SIZE", "WATCHLIST_MAX_QUARANTINE_SHARE",
             "WATCHLIST_MODEL_MAX_AGE_DAYS", "WATCHLIST_TRAINING_METHOD", "WATCHLIST_LINKAGE_ENGINE",
             "WATCHLIST_GROUPING_METHOD", "WATCHLIST_GROUPING_SCOPE", "SPARK_MASTER", "SPARK_CHECKPOINT_DIR",
             "WATCHLIST_ONCALL_WEBHOOK", "WATCHLIST_DEADLINE_HOURS", "WATCHLIST_LANDING_POLL_SECONDS",
             "WATCHLIST_ALERT_TRANSPORT", "ALERTS_GRPC_TARGET", "WATCHLIST_PHOTO_BLOCKING",
             "WATCHLIST_CANDIDATE_CACHE_DIR", "WATCHLIST_DUCKDB_MEMORY_GB", "WATCHLIST_DUCKDB_SPILL_DIR")


@pytest.fixture
def bare_env(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_without_any_variable(bare_env):
    s = Settings.from_env()
    assert s.landing_dir == LOCAL_DIR / "landing" and s.model_dir == LOCAL_DIR / "models"
    assert s.warehouse_dsn == "postgresql://pipeline@127.0.0.1:55432/warehouse"
    assert (s.alerts_url, s.pipeline_token, s.label_token) == ("http://127.0.0.1:8088", "", None)
    assert s.match_threshold == 0.25 and s.match_threshold_set is None  # the Bayes decision at miss cost 3
    assert (s.alert_batch_size, s.max_quarantine_share, s.model_max_age_days) == (200, 0.2, 30)
    assert (s.training_method, s.miss_cost, s.linkage_engine) == ("em", 3.0, None)
    assert (s.grouping_method, s.grouping_scope) == (None, None)
    assert (s.spark_master, s.spark_checkpoint_dir) == ("local[*]", None)
    assert (s.oncall_webhook, s.deadline_hours, s.landing_poll_seconds) == (None, 9.0, 300.0)
    assert (s.alert_transport, s.alerts_grpc_target) == ("rest", "127.0.0.1:8089")
    assert (s.photo_blocking, s.candidate_cache_dir) == ("auto", LOCAL_DIR / "candidate-cache")
    assert (s.duckdb_memory_gb, s.duckdb_spill_dir) == (6.0, LOCAL_DIR / "duckdb-spill")


def test_each_variable_reaches_its_field(bare_env):
    for name, value in {"WATCHLIST_MISS_COST": "1", "WATCHLIST_GROUPING_METHOD": "cliques",
                        "WATCHLIST_GROUPING_SCOPE": "all", "WATCHLIST_LINKAGE_ENGINE": "spark",
                        "SPARK_MASTER": "spark://h:7077", "SPARK_CHECKPOINT_DIR": "/shared/ckpt",
                        "WATCHLIST_ONCALL_WEBHOOK": "http://pager.test/hook", "WATCHLIST_DEADLINE_HOURS": "0",
                        "WATCHLIST_LANDING_POLL_SECONDS": "5", "WATCHLIST_ALERT_TRANSPORT": "gRPC",
                        "ALERTS_GRPC_TARGET": "lb:9000", "WATCHLIST_PHOTO_BLOCKING": "Sex",
                        "WATCHLIST_CANDIDATE_CACHE_DIR": "/shared/candidates", "WATCHLIST_DUCKDB_MEMORY_GB": "2.5",
                        "WATCHLIST_DUCKDB_SPILL_DIR": "/scratch/duckdb"}.items():
        bare_env.setenv(name, value)
    s = Settings.from_env()
    assert s.match_threshold == 0.5 and s.match_threshold_set is None  # derived from the miss cost
    assert (s.grouping_method, s.grouping_scope, s.linkage_engine) == ("cliques", "all", "spark")
    assert (s.spark_master, s.spark_checkpoint_dir) == ("spark://h:7077", "/shared/ckpt")
    assert (s.oncall_webhook, s.deadline_hours, s.landing_poll_seconds) == ("http://pager.test/hook", 0.0, 5.0)
    assert (s.alert_transport, s.alerts_grpc_target) == ("grpc", "lb:9000")
    assert (s.photo_blocking, str(s.candidate_cache_dir)) == ("sex", "/shared/candidates")
    assert (s.duckdb_memory_gb, str(s.duckdb_spill_dir)) == (2.5, "/scratch/duckdb")
    bare_env.setenv("WATCHLIST_CANDIDATE_CACHE_DIR", "")
    assert Settings.from_env().candidate_cache_dir is None   # empty: pairs are not kept between tasks
    bare_env.setenv("WATCHLIST_MATCH_THRESHOLD", "0.8")
    assert Settings.from_env().match_threshold == Settings.from_env().match_threshold_set == 0.8


def test_the_linkage_duckdb_keeps_to_its_budget_and_spills_where_told(tmp_path):
    import dataclasses

    from watchlist_screening.linkage.screen_day import linkage_connection

    settings = dataclasses.replace(Settings.from_env(), duckdb_memory_gb=1.5, duckdb_spill_dir=tmp_path / "spill")
    con = linkage_connection(settings)
    limit, spill = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    assert limit in ("1.3 GiB", "1.4 GiB") and spill == str(tmp_path / "spill") and (tmp_path / "spill").is_dir()
    with pytest.raises(ValueError, match="WATCHLIST_DUCKDB_MEMORY_GB"):
        linkage_connection(dataclasses.replace(settings, duckdb_memory_gb=0))
