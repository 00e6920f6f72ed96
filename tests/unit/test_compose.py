"""docker-compose.yaml cannot run here (no Docker engine), so it is kept correct by
construction: schema-checked, rendered by docker-compose, and compared with the local path."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = REPO_ROOT / "docker-compose.yaml"


def _env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (REPO_ROOT / ".env.example").read_text().splitlines()
             if line and not line.startswith("#"))
    return {k: v for k, v in pairs}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_spec_schema():
    checker = shutil.which("check-jsonschema") or str(Path(os.sys.executable).parent / "check-jsonschema")
    done = subprocess.run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian docker-compose not installed (make install)")
def test_docker_compose_renders_with_example_env_and_refuses_without_secrets():
    env = {"PATH": os.environ["PATH"], **_env_example()}
    ok = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"],
                             env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, cwd="/")
    assert missing.returncode != 0 and "set in .env" in missing.stderr


def test_components_match_the_local_stack(compose):
    services = compose["services"]
    for name in ("postgres", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                 "airflow-triggerer", "spark-master", "spark-worker", "alerting", "alerting-lb"):
        assert name in services, name
    assert services["alerting"]["deploy"]["replicas"] >= 3
    lib = (REPO_ROOT / "scripts" / "lib.sh").read_text()
    lb_port = re.search(r'ALERTS_LB_PORT="\$\{ALERTS_LB_PORT:-(\d+)\}"', lib).group(1)
    assert f"{lb_port}:{lb_port}" in services["alerting-lb"]["ports"]
    # the balancer is rendered from the same template as locally
    assert any("service/nginx.conf.template" in v for v in services["alerting-lb"]["volumes"])
    pg_major = services["postgres"]["image"].split(":")[1]
    local_pg = subprocess.run(["bash", "-c", f"source {REPO_ROOT}/scripts/lib.sh; echo $PG_BIN"],
                              capture_output=True, text=True).stdout.strip()
    if local_pg:
        assert f"/postgresql/{pg_major}/" in local_pg


def test_airflow_image_and_connections_match(compose):
    from watchlist_screening.airflow_config import ALERTING_CONN_ID, WAREHOUSE_CONN_ID

    airflow_pin = re.search(r"^apache-airflow==(\S+)$", (REPO_ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert f"FROM apache/airflow:{airflow_pin}-" in (REPO_ROOT / "Dockerfile").read_text()
    env = compose["x-airflow-common"]["environment"]
    stack = (REPO_ROOT / "scripts" / "stack.sh").read_text()
    for conn_id in (WAREHOUSE_CONN_ID, ALERTING_CONN_ID, "spark_default"):
        var = f"AIRFLOW_CONN_{conn_id.upper()}"
        assert var in env, var
        assert f"_stack_default {var} " in stack, var
    assert "spark://spark-master" in env["AIRFLOW_CONN_SPARK_DEFAULT"]


def test_every_secret_comes_from_the_env_file(compose):
    text = COMPOSE.read_text()
    referenced = set(re.findall(r"\$\{([A-Z_]+)[:?}-]", text))
    assert referenced <= set(_env_example()), referenced - set(_env_example())
    assert "change-me" not in text
