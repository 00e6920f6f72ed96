"""Normalisation of the landing zone into the warehouse (spark/normalise_day.py).

contract      the line contract as data (fields, reason codes, detail wording)
rules         normalisation rules in plain Python (names, dates, embeddings)
validate      line validation in plain Python: the reference for spark_checks
spark_rules   the rules as Spark columns;  spark_checks  the validation as Spark columns
landing       which files a run reads;  raw_lines  driver-side line access (gzip damage)
lines         files → numbered lines (Spark);  records  lines → checked, normalised records
staging       staging tables and the COPY write from Spark;  publish  one-transaction publish
summary       run summary and on-call message;  session  Spark settings;  job  the CLI
"""
