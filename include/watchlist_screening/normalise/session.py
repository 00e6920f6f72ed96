"""The Spark session settings the normalisation relies on (the job and tests share them)."""
from __future__ import annotations

from pyspark.sql import SparkSession

SQL_SETTINGS = {
    # Timestamps leave Spark with an explicit offset; UTC keeps logs and tests plain.
    "spark.sql.session.timeZone": "UTC",
    # Spark refuses TIMESTAMP(NANOS) Parquet columns (what pandas writes by default) unless
    # handed over as their int64 count, which parquet.py converts.
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}


def configure(spark: SparkSession) -> SparkSession:
    for key, value in SQL_SETTINGS.items():
        spark.conf.set(key, value)
    return spark


def create_session(app_name: str) -> SparkSession:
    """The master comes from spark-submit (local[*] when run without one)."""
    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "false")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return configure(spark)
