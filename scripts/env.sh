# Environment of the local deployment: source it (the Makefile and tests do) to get the
# venv on PATH, Airflow pointed at this repo, and the local stack's connections.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_DIR="${WATCHLIST_LOCAL_DIR:-$REPO_ROOT/.local}"
export PATH="$REPO_ROOT/.venv/bin:$PATH"
export PYSPARK_PYTHON="$REPO_ROOT/.venv/bin/python"
export PYSPARK_DRIVER_PYTHON="$REPO_ROOT/.venv/bin/python"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$LOCAL_DIR/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO_ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$REPO_ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$AIRFLOW_HOME/logs"
export WATCHLIST_MODEL_DIR="${WATCHLIST_MODEL_DIR:-$LOCAL_DIR/models}"
export WATCHLIST_REPORT_DIR="${WATCHLIST_REPORT_DIR:-$LOCAL_DIR/reports}"
if [ -f "$LOCAL_DIR/stack.env" ]; then . "$LOCAL_DIR/stack.env"; fi
