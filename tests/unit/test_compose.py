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
    from watchlist_screening.orchestration.connections import ALERTING_CONN_ID, WAREHOUSE_CONN_ID

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


# ----------------------------------------------------------------------------- drift
# Every image, port, env var and volume compose names is held against the local path.

CODE_DIRS = ("include", "service", "dags", "spark")
# Names compose sets that the local path has no use for, and why.
COMPOSE_ONLY_ENV = {
    "AIRFLOW_ADMIN_PASSWORD": "airflow-init writes it into the passwords file; scripts/airflow.sh generates one",
}
# Names the pipeline reads that compose leaves to their defaults or provides otherwise, and why.
PIPELINE_ENV_NOT_IN_COMPOSE = {
    "WAREHOUSE_DSN": "tasks use the warehouse_postgres connection (AIRFLOW_CONN_WAREHOUSE_POSTGRES)",
    "ALERTS_URL": "tasks use the alerting_service connection",
    "ALERTS_PIPELINE_TOKEN": "tasks use the alerting_service connection's password",
    "WATCHLIST_LOCAL_DIR": "the local path's .local/ layout",
    "WATCHLIST_ALERT_BATCH_SIZE": "tuning: the default applies",
    "WATCHLIST_MAX_QUARANTINE_SHARE": "tuning: the default applies",
    "WATCHLIST_MODEL_MAX_AGE_DAYS": "tuning: the default applies",
    "WATCHLIST_GROUPING_METHOD": "tuning: the default applies",
    "WATCHLIST_GROUPING_SCOPE": "tuning: the default applies",
    "WATCHLIST_LINKAGE_ENGINE": "one host: the default (DuckDB) applies; spark is for a cluster (SPARK_MASTER)",
    "WATCHLIST_LANDING_POLL_SECONDS": "tuning: the default applies",
    "WATCHLIST_TRAINING_METHOD": "the default trainer (em) applies",
    "WATCHLIST_ALERT_TRANSPORT": "the default transport (REST) applies; the connection's extra names grpc_port",
    "ALERTS_GRPC_TARGET": "tasks use the alerting_service connection's extra grpc_port",
    "WATCHLIST_PHOTO_BLOCKING": "the default (auto: sex blocks for a full-scale day's search only) applies",
    "WATCHLIST_CANDIDATE_CACHE_DIR": "the default under the worker's .local/ (a worker without the file searches again)",
    "WATCHLIST_MISS_COST": "the default (3 false alerts per missed wanted person: threshold 0.25) applies",
    "WATCHLIST_DUCKDB_MEMORY_GB": "tuning: the default (6 GB) applies",
    "WATCHLIST_DUCKDB_SPILL_DIR": "the default under the worker's .local/",
}
# Local Airflow settings compose leaves to the image's defaults, and why.
LOCAL_ONLY_AIRFLOW = {
    "AIRFLOW__CORE__PARALLELISM": "sized for the 2-core local machine",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False, the default, pinned locally against a stray airflow.cfg",
    "AIRFLOW__API__HOST": "the container listens on all interfaces by default",
    "AIRFLOW__API__PORT": "8080, the default (published as 8080)",
    "AIRFLOW__API__BASE_URL": "the browser reaches the container through the published port",
    "AIRFLOW__API__SECRET_KEY": "one api-server in compose: Airflow's generated key serves",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": "the image's /opt/airflow/logs, on the airflow-logs volume",
}


def _script(name: str) -> str:
    return (REPO_ROOT / "scripts" / name).read_text()


def _code_env_names() -> set[str]:
    """Every WATCHLIST_* / ALERTS_* / WAREHOUSE_* name the project's code reads."""
    names = set()
    for folder in CODE_DIRS:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            names |= set(re.findall(r"[\"']((?:WATCHLIST|ALERTS|WAREHOUSE)_[A-Z0-9_]+)[\"']", path.read_text()))
    return names


def _local_airflow_settings() -> set[str]:
    text = _script("env.sh") + _script("airflow.sh")
    return set(re.findall(r"export (AIRFLOW__[A-Z0-9_]+)=", text))


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    return dict(env) if isinstance(env, dict) else dict(item.split("=", 1) for item in env)


def _airflow_services(compose: dict) -> dict[str, dict]:
    return {n: s for n, s in compose["services"].items() if n.startswith("airflow-")}


def test_every_compose_env_var_is_one_the_local_path_knows(compose):
    code, local_airflow = _code_env_names(), _local_airflow_settings()
    stack = _script("stack.sh")
    unknown = []
    for name, service in compose["services"].items():
        for var in _environment(service):
            if name == "postgres":
                known = var in {"POSTGRES_USER", "POSTGRES_PASSWORD"} or \
                    f"${{{var}}}" in (REPO_ROOT / "deploy" / "postgres" / "init-databases.sh").read_text()
            elif name == "alerting-lb":
                known = f"${{{var}}}" in _script("alerting.sh")  # the names envsubst renders locally
            elif var.startswith("AIRFLOW__"):
                known = var in local_airflow
            elif var.startswith("AIRFLOW_CONN_"):
                known = f"_stack_default {var} " in stack
            else:
                known = var in code or var in COMPOSE_ONLY_ENV
            if not known:
                unknown.append(f"{name}: {var}")
    assert not unknown, unknown


def test_every_setting_the_local_path_makes_is_in_compose(compose):
    common = compose["x-airflow-common"]["environment"]
    missing_airflow = _local_airflow_settings() - set(common) - set(LOCAL_ONLY_AIRFLOW)
    assert not missing_airflow, missing_airflow
    pipeline = {v for v in _code_env_names() if not v.startswith("ALERTS_")} | {"ALERTS_URL", "ALERTS_PIPELINE_TOKEN"}
    missing_pipeline = pipeline - set(common) - set(PIPELINE_ENV_NOT_IN_COMPOSE)
    assert not missing_pipeline, missing_pipeline
    # the service: whatever the local replicas are given, the containers are given too
    alerting = set(_environment(compose["services"]["alerting"]))
    local_service = set(re.findall(r"export (ALERTS_[A-Z_]+)=", _script("alerting.sh"))) | {
        v for v in re.findall(r"_stack_default (ALERTS_[A-Z_]+) ", _script("stack.sh"))
        if v not in ("ALERTS_URL", "ALERTS_GRPC_TARGET", "ALERTS_PIPELINE_TOKEN")} | {"ALERTS_PIPELINE_TOKEN"}
    for var in local_service:
        assert var in alerting or f"{var}S" in alerting, var
    assert not set(PIPELINE_ENV_NOT_IN_COMPOSE) & set(common), "an exception that is no longer one"


def _mounts(service: dict) -> list[tuple[str, str]]:
    return [(v.split(":")[0], v.split(":")[1]) for v in service.get("volumes", [])]


def test_every_volume_exists_and_every_configured_dir_is_mounted(compose):
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for source, target in _mounts(service):
            if source.startswith("./"):
                assert (REPO_ROOT / source).exists(), f"{name}: {source}"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
        env = _environment(service)
        targets = [t for _, t in _mounts(service)]
        for var, value in env.items():
            # the project's data and code folders (nginx's scratch dir in /tmp is not one)
            if var.startswith(("WATCHLIST_", "ALERTS_", "AIRFLOW__")) and var.endswith(("_DIR", "_FOLDER")):
                assert any(str(value) == t or str(value).startswith(t + "/") for t in targets), \
                    f"{name}: {var}={value} is not on a volume"
    assert used == declared, declared - used
    # the review page serves exactly the folder the pipeline writes reports into
    volume_of = lambda service, path: next(s for s, t in _mounts(service) if path.startswith(t))  # noqa: E731
    airflow = compose["services"]["airflow-scheduler"]
    alerting = compose["services"]["alerting"]
    assert volume_of(airflow, _environment(airflow)["WATCHLIST_REPORT_DIR"]) == \
        volume_of(alerting, _environment(alerting)["ALERTS_REPORT_DIR"])
    # the package the DAG imports is on the image's path where compose mounts it
    include_target = next(t for s, t in _mounts(airflow) if s == "./include")
    assert f"PYTHONPATH={include_target}" in (REPO_ROOT / "Dockerfile").read_text()


def test_images_are_pinned_and_run_the_local_python(compose):
    import sys

    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for name, service in compose["services"].items():
        if "build" in service:
            build = service["build"]
            dockerfile = REPO_ROOT / build["context"] / build.get("dockerfile", "Dockerfile")
            text = dockerfile.read_text()
            assert re.search(rf"^FROM \S*{python.replace('python', 'python:?')}", text, re.M), f"{name}: {dockerfile}"
        else:
            image = service["image"]
            assert ":" in image and not image.endswith(":latest") and re.search(r":\d", image), f"{name}: {image}"


def test_published_ports_are_the_local_ones(compose):
    services = compose["services"]
    airflow_port = re.search(r'API_PORT="\$\{AIRFLOW_API_PORT:-(\d+)\}"', _script("airflow.sh")).group(1)
    assert services["airflow-apiserver"]["ports"] == [f"{airflow_port}:8080"]
    lb_port = re.search(r'ALERTS_LB_PORT="\$\{ALERTS_LB_PORT:-(\d+)\}"', _script("lib.sh")).group(1)
    grpc_lb_port = re.search(r"ALERTS_GRPC_LB_PORT=(\d+);", _script("lib.sh")).group(1)
    assert services["alerting-lb"]["ports"] == [f"{lb_port}:{lb_port}", f"{grpc_lb_port}:{grpc_lb_port}"]
    assert _environment(services["alerting-lb"])["LISTEN"] == lb_port
    assert _environment(services["alerting-lb"])["GRPC_LISTEN"] == grpc_lb_port
    # the pipeline's gRPC transport is told the balancer's gRPC port, as locally
    assert f'"grpc_port": {grpc_lb_port}' in compose["x-airflow-common"]["environment"]["AIRFLOW_CONN_ALERTING_SERVICE"]
    assert '"grpc_port": ${ALERTS_GRPC_LB_PORT}' in _script("stack.sh")
    assert services["spark-master"]["ports"] == ["8081:8081"]  # Spark's UI; locally Spark runs in-process
    # the balancer sends to the port the service's image listens on
    dockerfile = (REPO_ROOT / "service" / "Dockerfile").read_text()
    service_port, grpc_port = re.findall(r"^EXPOSE (\d+)", dockerfile, re.M)
    assert f'"--port", "{service_port}", "--grpc-port", "{grpc_port}"' in dockerfile
    assert services["alerting"]["expose"] == [service_port, grpc_port]
    assert f"alerting:{service_port}" in _environment(services["alerting-lb"])["UPSTREAM_SERVERS"]
    # ... and takes a replica out of the pool on the same failures as the local balancer
    failures = re.search(r'^UPSTREAM_FAILURES="([^"]+)"', _script("alerting.sh"), re.M).group(1)
    assert "max_fails=1 " not in failures  # one bad request must not eject a replica (issue 13)
    assert _environment(services["alerting-lb"])["UPSTREAM_SERVERS"].strip() == f"server alerting:{service_port} {failures};"
    assert _environment(services["alerting-lb"])["GRPC_UPSTREAM_SERVERS"].strip() == \
        f"server alerting:{grpc_port} {failures};"
    # rendered with every name the template uses, as locally
    template_names = set(re.findall(r"\$\{([A-Z_]+)\}", (REPO_ROOT / "service" / "nginx.conf.template").read_text()))
    command = services["alerting-lb"]["command"][0]
    assert template_names == set(re.findall(r"\$\$([A-Z_]+)", command))
    assert template_names == set(re.findall(r"\$\{([A-Z_]+)\}", _script("alerting.sh").split("envsubst", 1)[1].split("\n")[0]))
    # the report links compose gives alerts lead to the published balancer
    assert f"localhost:{lb_port}/review/reports" in compose["x-airflow-common"]["environment"]["WATCHLIST_REPORT_BASE_URL"]
