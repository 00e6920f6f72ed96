#!/usr/bin/env bash
# Screen one day through Airflow (`airflow dags test`, local metadata DB) and print the
# day's run summary as the last line on stdout. Usage: run_day.sh DATE LANDING_DIR
set -euo pipefail
source "$(dirname "$0")/env.sh"
day=${1:?usage: run_day.sh YYYY-MM-DD LANDING_DIR}
landing=$(cd "${2:?usage: run_day.sh YYYY-MM-DD LANDING_DIR}" && pwd)
log="$LOCAL_DIR/logs/run-$day.log"
# `airflow dags test` cannot evaluate deadline alerts (Airflow 3.3); the scheduler does.
export WATCHLIST_DEADLINE_HOURS=0
# A day on demand is screened with what has landed: an empty day is valid, not late.
# Encoded, not pasted: a path holding `"` or `\` must stay one string, never add conf keys.
conf=$(python -c 'import json, sys; print(json.dumps({"date": sys.argv[1], "landing_dir": sys.argv[2], "landing_wait_minutes": 0}))' "$day" "$landing")
echo "[run] screening $day from $landing (Airflow log: $log)" >&2
airflow pools set alerting_service "${ALERTING_POOL_SLOTS:-4}" "Concurrent calls to the alerting service" >/dev/null 2>&1
if ! airflow dags test watchlist_screening "$day" --conf "$conf" >"$log" 2>&1 \
   || grep -q "DagRun Finished: .*state=failed" "$log"; then
  echo "[run] FAILED — failing task(s) and errors from $log:" >&2
  grep -E "ON-CALL|ERROR|Task failed|AirflowFailException|state=failed" "$log" | tail -20 >&2 || tail -40 "$log" >&2
  exit 1
fi
python -m watchlist_screening.reporting.run_summary --date "$day"
