# Airflow image for docker-compose.yaml: the official Airflow 3.3.2 image plus Java 17
# (Spark) and this project's pinned requirements.
FROM apache/airflow:3.3.2-python3.11

USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64

USER airflow
# Exact pins, no resolver: the same set the local path installs (see Makefile `install`).
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --no-deps -r /tmp/requirements.txt

COPY --chown=airflow:root . /opt/airflow/project
RUN pip install --no-cache-dir --no-deps -e /opt/airflow/project
ENV PYSPARK_PYTHON=/home/airflow/.local/bin/python \
    PYTHONPATH=/opt/airflow/project/include
WORKDIR /opt/airflow/project
