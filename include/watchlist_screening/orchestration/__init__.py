"""Everything that knows it runs under Airflow: the task bodies the DAG file wires up
(tasks.py), where connections and variables come from (connections.py), the landing
sensor, the retry policy, on-call notices, per-task wall time, and the one mapping of
PermanentError to AirflowFailException (failures.py). The stages themselves (normalise/,
linkage/, alerts/, reporting/) never import Airflow."""
