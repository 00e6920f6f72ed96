"""Normalisation of the landing zone into the warehouse (spark/normalise_day.py).

contract      the line contract as data (fields, reason codes, detail wording)
rules         normalisation rules in plain Python (names, dates, embeddings)
validate      line validation in plain Python: names the first problem of a line
spark_checks  Spark: parse, type and validate every line natively (tier 1)
landing       which files a run reads;  raw_lines  driver-side line access (gzip damage)
lines         files → numbered lines (Spark);  records  lines → checked records (Spark)
finish        per Arrow batch: problems of rejected lines, names, unit embeddings
arrow_names   rules.normalise_name over Arrow columns
staging       staging tables and the COPY write from Spark;  publish  one-transaction publish
summary       run summary and on-call message;  session  Spark settings;  job  the CLI
"""
