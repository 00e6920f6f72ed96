"""Normalisation of the landing zone into the warehouse (spark/normalise_day.py).

contract      the line contract as data (fields, reason codes, detail wording)
rules         normalisation rules in plain Python (names, dates, embeddings)
validate      line validation in plain Python: names the first problem of a line (tier 2)
parse         msgspec: decode and type a line that honours the contract (tier 1)
landing       which files a run reads, what it reports instead (links are never followed)
raw_lines     line access (gzip damage)
lines         files → numbered lines (Spark);  records  lines → text for the writer (Spark)
finish        per Arrow batch: tier 1 and 2, names, unit embeddings → good rows, bad lines
arrow_names   rules.normalise_name over Arrow columns
columns       the contract over typed Arrow columns (Parquet rows), vectorised; rows as JSON for tier 2
parquet       .parquet files: footers, Spark's columnar reader, finish_rows, duplicates' rows
staging       staging tables and the binary COPY from Spark;  publish  one-transaction publish
summary       run summary and on-call message;  session  Spark settings;  job  the CLI
"""
