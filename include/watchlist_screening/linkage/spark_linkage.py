"""The linkage stage on Spark, for days and watchlists that outgrow one machine.

Same inputs and outputs as the DuckDB engine (candidates.py, scoring.py): the day's
`passengers` and the `watchlist` in a DuckDB connection in, `candidate_pairs`,
`splink_blocked_pairs` and `matches` back in it, so everything downstream is unchanged.

Candidates are an exact photo nearest-neighbour search, partitioned: the watchlist is cut
into shards and the passengers into blocks, each (shard, block) task searches its block
against its shard with a faiss flat index, and a window keeps each passenger's overall
top k. The work is the same matrix product candidates.py runs, spread over the cluster;
the shuffle carries every watchlist row once per block and every passenger once per shard,
which is what lets each task hold only one shard. Name/date-of-birth rules and scoring
follow the DuckDB engine, with a DuckDB-trained model's parameters copied level by level.
"""
from __future__ import annotations

import atexit
import logging
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from fractions import Fraction

import duckdb
import jellyfish

from watchlist_screening.linkage import physique_blocks
from watchlist_screening.linkage.candidates import (
    CANDIDATES,
    CandidateConfig,
    blocked_pairs_for_splink,
)
from watchlist_screening.linkage.comparisons import SPARK_BEST_JARO_WINKLER, SPARK_PHOTO_COSINE
from watchlist_screening.linkage.linker import predict, settings_creator
from watchlist_screening.linkage.tables import EMBEDDING_DIM, PASSENGERS, WATCHLIST, embedding_matrix
from watchlist_screening.linkage.scoring import create_matches
from watchlist_screening.pipeline_settings import Settings

_SEARCH_SCHEMA = "scan_id string, subject_id string, similarity float"
_CANDIDATE_COLUMNS = ("scan_id", "subject_id", "photo_similarity", "via_photo", "via_rules")


@dataclass(frozen=True)
class SparkLinkageConfig:
    # A task holds one watchlist shard's embeddings (512 bytes a row) as a faiss index
    # and one block of passengers: ~180 MB of embeddings per task at these sizes.
    shard_rows: int = 250_000
    block_rows: int = 100_000
    # Splink repartitions each intermediate table to half of spark.sql.shuffle.partitions
    # unless told; sizing by pairs spares a small day hundreds of near-empty tasks.
    pairs_per_partition: int = 200_000


def create_session(app_name: str = "watchlist-linkage", master: str | None = None,
                   checkpoint_dir: str | None = None, settings: Settings | None = None):
    """A SparkSession with Splink's similarity-UDF jar on its class path (SparkAPI registers
    the UDFs and warns without it). The master: `master`, else spark-submit's, else
    $SPARK_MASTER, else local[*].

    Splink writes its intermediate tables under the checkpoint directory (parquet, which
    cuts the lineage of its iterative clustering; cached tables would not): `checkpoint_dir`,
    else $SPARK_CHECKPOINT_DIR, else spark.checkpoint.dir, else a temporary directory when
    local. A cluster needs storage that all executors share. Both variables are read
    through `settings` (pipeline_settings.Settings; read here when not given)."""
    settings = settings or Settings.from_env()
    # Workers must import this package and faiss: the driver's interpreter (the venv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = (SparkSession.builder.appName(app_name)
               .config("spark.jars", similarity_jar_location())
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "false"))
    # spark-submit hands its gateway (and with it its --master) to the Python it starts.
    if master is None and "PYSPARK_GATEWAY_PORT" not in os.environ:
        master = settings.spark_master
    if master:
        builder = builder.master(master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    # Spark warns "All paths were ignored" on every read of Splink's __splink__* parquet
    # (underscore names count as hidden), though it reads them.
    log4j = spark._jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel("org.apache.spark.sql.execution.datasources.DataSource",
                                            log4j.Level.ERROR)
    checkpoint_dir = checkpoint_dir or settings.spark_checkpoint_dir
    if checkpoint_dir:
        spark.sparkContext.setCheckpointDir(checkpoint_dir)
    elif spark.sparkContext.getCheckpointDir() is None and spark.sparkContext.master.startswith("local"):
        local_dir = tempfile.mkdtemp(prefix="watchlist-linkage-")
        atexit.register(shutil.rmtree, local_dir, ignore_errors=True)
        spark.sparkContext.setCheckpointDir(local_dir)
    return spark


def duckdb_jaro_winkler(a: str, b: str) -> float:
    """DuckDB's jaro_winkler_similarity, bit for bit (checked on 350,000 name pairs): Jaro
    on UTF-8 bytes (latin-1 decoding gives one character per byte), and the Winkler step
    rounded once, as DuckDB's fused multiply-add does."""
    a, b = a.encode().decode("latin-1"), b.encode().decode("latin-1")
    similarity = jellyfish.jaro_similarity(a, b)
    prefix = next((i for i, (x, y) in enumerate(zip(a[:4], b[:4])) if x != y), min(len(a), len(b), 4))
    if similarity > 0.7 and prefix:
        similarity = float(Fraction(prefix * 0.1) * Fraction(1 - similarity) + Fraction(similarity))
    return similarity


def best_jaro_winkler(left, right) -> float | None:
    """The best similarity over all pairings of two name lists (None without a pair), as
    the DuckDB names levels take it."""
    if left is None or right is None:
        return None
    return max((duckdb_jaro_winkler(a, b) for a in left for b in right if a is not None and b is not None),
               default=None)


def photo_cosine(left, right):
    """Cosine of two columns of embeddings (pandas Series of arrays), a batch at a time."""
    import numpy as np
    import pandas as pd

    out = np.full(len(left), np.nan)
    valid = (left.notna() & right.notna()).to_numpy()
    if valid.any():
        a = np.stack(left[valid].to_numpy()).astype(np.float64)
        b = np.stack(right[valid].to_numpy()).astype(np.float64)
        out[valid] = np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return pd.Series(out)


def _register_udfs(spark) -> None:
    from pyspark.sql.functions import pandas_udf, udf
    from pyspark.sql.types import DoubleType

    spark.udf.register(SPARK_BEST_JARO_WINKLER, udf(best_jaro_winkler, DoubleType(), useArrow=True))
    spark.udf.register(SPARK_PHOTO_COSINE, pandas_udf(photo_cosine, DoubleType()))


def _shard_search(neighbours: int, min_similarity: float):
    """The cogroup function: one block of passengers against one watchlist shard."""

    def search(passengers, shard):
        import faiss
        import numpy as np
        import pyarrow as pa
        from pyspark import TaskContext

        k = min(neighbours, shard.num_rows)
        if k == 0 or passengers.num_rows == 0:
            return pa.table({"scan_id": pa.array([], pa.string()), "subject_id": pa.array([], pa.string()),
                             "similarity": pa.array([], pa.float32())})
        # Spark already runs a task per core: faiss's own threads would only oversubscribe.
        faiss.omp_set_num_threads(max(1, TaskContext.get().cpus()))
        index = faiss.IndexFlatIP(EMBEDDING_DIM)
        index.add(embedding_matrix(shard.column("face_embedding")))
        sims, idx = index.search(embedding_matrix(passengers.column("face_embedding")), k)
        rows, cols = np.nonzero((idx >= 0) & (sims >= min_similarity))
        return pa.table({
            "scan_id": passengers.column("unique_id").take(pa.array(rows)),
            "subject_id": shard.column("unique_id").take(pa.array(idx[rows, cols])),
            "similarity": pa.array(sims[rows, cols], pa.float32()),
        })

    return search


def photo_pairs(passengers, watchlist, config: CandidateConfig = CandidateConfig(),
                spark_config: SparkLinkageConfig = SparkLinkageConfig()):
    """(scan_id, subject_id) of each passenger's `config.neighbours` most similar watchlist
    photos at or above `config.min_similarity`: exact, partitioned search."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    n_watchlist, n_passengers = watchlist.count(), passengers.count()
    shards = max(1, math.ceil(n_watchlist / spark_config.shard_rows))
    blocks = max(1, math.ceil(n_passengers / spark_config.block_rows))

    # Both sides' keys must have one type: cogroup would not pair an int 0 with a long 0.
    def bucket(count: int):
        return F.pmod(F.xxhash64("unique_id"), F.lit(count)).cast("int")

    def every(count: int):
        return F.explode(F.sequence(F.lit(0), F.lit(count - 1)))

    # Sex blocks as physique_blocks.py draws them: a passenger in its sex's block (X for
    # anything else), an entry in its own and X's, an entry that is not F or M in all.
    blocked = config.blocking_for(n_passengers, n_watchlist) == "sex"
    own = F.when(F.col("sex").isin(*physique_blocks.BLOCKED_SEXES), F.col("sex")).otherwise(
        F.lit(physique_blocks.UNBLOCKED)) if blocked else F.lit(physique_blocks.UNBLOCKED)
    all_blocks = F.array(*[F.lit(b) for b in (*physique_blocks.BLOCKED_SEXES, physique_blocks.UNBLOCKED)])
    found_in = (F.when(own == physique_blocks.UNBLOCKED, all_blocks)
                .otherwise(F.array(own, F.lit(physique_blocks.UNBLOCKED)))) if blocked else F.array(own)
    query = passengers.select(every(shards).alias("shard"), bucket(blocks).alias("block"), own.alias("sex_block"),
                              "unique_id", "face_embedding")
    base = watchlist.select(bucket(shards).alias("shard"), every(blocks).alias("block"),
                            F.explode(found_in).alias("sex_block"), "unique_id", "face_embedding")
    keys = ("shard", "block", "sex_block")
    found = (query.groupBy(*keys).cogroup(base.groupBy(*keys))
             .applyInArrow(_shard_search(config.neighbours, config.min_similarity), _SEARCH_SCHEMA))
    best_first = Window.partitionBy("scan_id").orderBy(F.desc("similarity"), "subject_id")
    return (found.withColumn("rank", F.row_number().over(best_first))
            .where(F.col("rank") <= config.neighbours).select("scan_id", "subject_id"))


def _uncommon(keys, key_columns: list[str], cap: int):
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    per_key = F.count(F.lit(1)).over(Window.partitionBy(*key_columns))
    return keys.withColumn("entries", per_key).where(F.col("entries") <= cap).drop("entries")


def rule_pairs(passengers, watchlist, config: CandidateConfig = CandidateConfig()):
    """The name and surname + date-of-birth rules of candidates.build_candidates, with the
    same cap on keys listed by too many watchlist entries."""
    from pyspark.sql import functions as F

    cap = int(config.max_entries_per_rule_key)
    name_keys = watchlist.select("unique_id", F.explode("name_keys").alias("name_key")).distinct()
    dob_keys = watchlist.select("unique_id", "surname_norm", F.explode("all_dobs").alias("dob")).distinct()
    # try_element_at: NULL for a passenger without a name or date (DuckDB's list[1] too),
    # where ANSI mode's [] would fail the job.
    p = passengers.select(F.col("unique_id").alias("scan_id"), "surname_norm",
                          F.try_element_at("name_keys", F.lit(1)).alias("name_key"),
                          F.try_element_at("all_dobs", F.lit(1)).alias("dob"))
    by_name = p.join(_uncommon(name_keys, ["name_key"], cap), "name_key")
    by_dob = p.join(_uncommon(dob_keys, ["surname_norm", "dob"], cap), ["surname_norm", "dob"])
    return (by_name.select("scan_id", F.col("unique_id").alias("subject_id"))
            .union(by_dob.select("scan_id", F.col("unique_id").alias("subject_id"))).distinct())


def _cosine(left: str, right: str) -> str:
    def dot(a: str, b: str) -> str:
        return f"aggregate(zip_with({a}, {b}, (x, y) -> CAST(x AS DOUBLE) * y), 0D, (acc, v) -> acc + v)"

    return f"{dot(left, right)} / sqrt({dot(left, left)} * {dot(right, right)})"


def spark_candidates(passengers, watchlist, config: CandidateConfig = CandidateConfig(),
                     spark_config: SparkLinkageConfig = SparkLinkageConfig()):
    """The DataFrame of candidate pairs, with the columns of DuckDB's `candidate_pairs`."""
    from pyspark.sql import functions as F

    tagged = (photo_pairs(passengers, watchlist, config, spark_config)
              .select("scan_id", "subject_id", F.lit(True).alias("via_photo"), F.lit(False).alias("via_rules"))
              .unionByName(rule_pairs(passengers, watchlist, config)
                           .select("scan_id", "subject_id", F.lit(False).alias("via_photo"),
                                   F.lit(True).alias("via_rules"))))
    pairs = tagged.groupBy("scan_id", "subject_id").agg(F.bool_or("via_photo").alias("via_photo"),
                                                        F.bool_or("via_rules").alias("via_rules"))
    p = passengers.select(F.col("unique_id").alias("scan_id"), F.col("face_embedding").alias("p_face"))
    w = watchlist.select(F.col("unique_id").alias("subject_id"), F.col("face_embedding").alias("w_face"))
    # FLOAT, as DuckDB's array_cosine_similarity gives for FLOAT[128].
    similarity = F.expr(_cosine("p_face", "w_face")).cast("float").alias("photo_similarity")
    return pairs.join(p, "scan_id").join(w, "subject_id").select("scan_id", "subject_id", similarity,
                                                                 "via_photo", "via_rules")


def spark_model(model: dict) -> dict:
    """A DuckDB-trained model (Splink's save_model_to_json) as Spark settings: the Spark
    dialect's comparisons with the trained m/u and λ copied level by level."""
    from watchlist_screening.linkage.comparisons import (
        face_band_of,
        has_joint_identity,
        photo_thresholds_of,
        split_by_face_band,
    )

    term_frequencies = any(level.get("tf_adjustment_column") for c in model["comparisons"]
                           for level in c["comparison_levels"])
    settings = settings_creator(model["probability_two_random_records_match"], term_frequencies,
                                dialect="spark", photo_thresholds=photo_thresholds_of(model),
                                joint_identity=has_joint_identity(model)).get_settings("spark").as_dict()
    if (cut := face_band_of(model)) is not None:
        split_by_face_band(settings, cut, "spark")
    trained = {c["output_column_name"]: c["comparison_levels"] for c in model["comparisons"]}
    for comparison in settings["comparisons"]:
        name = comparison["output_column_name"]
        levels = comparison["comparison_levels"]
        labels = [level["label_for_charts"] for level in levels]
        if name not in trained or [level["label_for_charts"] for level in trained[name]] != labels:
            raise ValueError(f"model's comparison {name!r} does not have this code's levels {labels}")
        for level, source in zip(levels, trained[name]):
            for key in ("m_probability", "u_probability"):
                if key in source:
                    level[key] = source[key]
    return settings


def _checkpointed(frame):
    return frame.localCheckpoint(eager=True)


def _temp_views(spark) -> set[str]:
    return {t.name for t in spark.catalog.listTables() if t.isTemporary}


def _drop_views(spark, before: set[str]) -> None:
    """Drop the views a run left: ours, and Splink's intermediate tables (it does not drop
    them all) with the parquet it wrote for them, gigabytes on a big day."""
    checkpoints = spark.sparkContext.getCheckpointDir()
    hadoop_fs = spark._jvm.org.apache.hadoop.fs
    for view in _temp_views(spark) - before:
        if not view.startswith(("__linkage_", "__splink__")):
            continue
        spark.catalog.dropTempView(view)
        if view.startswith("__splink__") and checkpoints:
            path = hadoop_fs.Path(checkpoints, view)
            path.getFileSystem(spark._jsc.hadoopConfiguration()).delete(path, True)


def _to_duckdb(con: duckdb.DuckDBPyConnection, name: str, frame) -> None:
    con.register(f"{name}_arrow", frame.toArrow())
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def _splink_scores(spark, passengers, watchlist, candidates, model: dict, threshold: float, partitions: int):
    """(predictions, groups) DataFrames: Splink's predict over the candidates at `threshold`
    and the connected-component group of each matched passenger."""
    from pyspark.sql import functions as F
    from splink import Linker
    from splink.backends.spark import SparkAPI

    # Private view names; Splink's names for the inputs (dataset_display_name) stay
    # `passengers`/`watchlist`, which the blocked-pair keys refer to.
    passengers.createOrReplaceTempView("__linkage_passengers")
    watchlist.createOrReplaceTempView("__linkage_watchlist")
    candidates.select(F.lit("0").alias("match_key"),
                      F.concat(F.lit(f"{PASSENGERS}-__-"), "scan_id").alias("join_key_l"),
                      F.concat(F.lit(f"{WATCHLIST}-__-"), "subject_id").alias("join_key_r"),
                      ).createOrReplaceTempView("__linkage_blocked_pairs")
    db_api = SparkAPI(spark_session=spark, num_partitions_on_repartition=partitions)
    linker = Linker(
        [db_api.register("__linkage_passengers", dataset_display_name=PASSENGERS),
         db_api.register("__linkage_watchlist", dataset_display_name=WATCHLIST)],
        spark_model(model), log_level=logging.WARNING,
    )
    predictions = predict(linker, db_api, "__linkage_blocked_pairs", threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold)

    names = [c["output_column_name"] for c in model["comparisons"]]
    scored = predictions.as_spark_dataframe().select(
        "source_dataset_l", "unique_id_l", "unique_id_r", "match_probability", "match_weight",
        *[f"mw_{n}" for n in names])
    matched = scored.select(F.when(F.col("source_dataset_l") == PASSENGERS, F.col("unique_id_l"))
                            .otherwise(F.col("unique_id_r")).alias("scan_id"))
    groups = (clusters.as_spark_dataframe().where(F.col("source_dataset") == PASSENGERS)
              .select(F.col("unique_id").alias("scan_id"), F.col("cluster_id").alias("group_id"))
              .join(matched, "scan_id", "left_semi"))
    return scored, groups


def _spark_inputs(spark, con: duckdb.DuckDBPyConnection):
    # Local checkpoints cut lineage: the inputs' from their copy in the driver (a local
    # relation, which the optimiser folds anew into every plan built on it: the test ran
    # a third slower).
    return (_checkpointed(spark.createDataFrame(con.sql(f"SELECT * FROM {PASSENGERS}").to_arrow_table())),
            _checkpointed(spark.createDataFrame(con.sql(f"SELECT * FROM {WATCHLIST}").to_arrow_table())))


def candidates_on_spark(spark, con: duckdb.DuckDBPyConnection, config: CandidateConfig = CandidateConfig(),
                        spark_config: SparkLinkageConfig = SparkLinkageConfig()):
    """Candidate pairs of the `passengers` and `watchlist` in `con`, searched on Spark, into
    `con` as candidates.build_candidates makes them. Returns (pair count, the candidates as
    a Spark DataFrame, the Spark inputs)."""
    passengers, watchlist = _spark_inputs(spark, con)
    # Checkpointed: each use would otherwise rerun the photo search.
    candidates = _checkpointed(spark_candidates(passengers, watchlist, config, spark_config))
    _to_duckdb(con, CANDIDATES, candidates.select(*_CANDIDATE_COLUMNS))
    return blocked_pairs_for_splink(con), candidates, (passengers, watchlist)


def score_on_spark(spark, con: duckdb.DuckDBPyConnection, model: dict, threshold: float,
                   config: CandidateConfig = CandidateConfig(),
                   spark_config: SparkLinkageConfig = SparkLinkageConfig()) -> int:
    """Candidates and scoring on Spark for the `passengers` and `watchlist` in `con`; creates
    `candidate_pairs`, `splink_blocked_pairs` and `matches` in `con` as
    candidates.build_candidates and scoring.score do. Returns the number of candidate pairs."""
    if spark.sparkContext.getCheckpointDir() is None:
        raise ValueError("the Spark session has no checkpoint directory, which Splink writes to: see create_session")
    _register_udfs(spark)
    pair_count, candidates, (passengers, watchlist) = candidates_on_spark(spark, con, config, spark_config)
    partitions = max(spark.sparkContext.defaultParallelism,
                     math.ceil(pair_count / spark_config.pairs_per_partition))
    views_before = _temp_views(spark)
    try:
        scored, groups = _splink_scores(spark, passengers, watchlist, candidates, model, threshold, partitions)
        _to_duckdb(con, "spark_predictions", scored)
        _to_duckdb(con, "spark_match_groups", groups)
    finally:
        _drop_views(spark, views_before)
    create_matches(con, "spark_predictions", "spark_match_groups", [c["output_column_name"] for c in model["comparisons"]])
    con.execute("DROP TABLE spark_predictions")
    con.execute("DROP TABLE spark_match_groups")
    return pair_count
