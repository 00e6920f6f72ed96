"""The encoded mode's switches: the setting and the DAG param that choose it, and the
alert payload that carries no name or date in it."""
from __future__ import annotations

import datetime as dt

import pytest

from watchlist_screening.alerts.payload import (
    ENCODED_PASSENGER_FIELDS,
    ENCODED_SUBJECT_FIELDS,
    PASSENGER_FIELDS,
    SUBJECT_FIELDS,
    build_alert,
)
from watchlist_screening.pipeline_settings import Settings, privacy_mode


def test_the_privacy_mode_is_clear_unless_set(monkeypatch):
    monkeypatch.delenv("WATCHLIST_PRIVACY_MODE", raising=False)
    assert Settings.from_env().privacy_mode == "clear"
    monkeypatch.setenv("WATCHLIST_PRIVACY_MODE", " Encoded ")
    assert privacy_mode(Settings.from_env().privacy_mode) == "encoded"
    with pytest.raises(ValueError, match="WATCHLIST_PRIVACY_MODE or the DAG param 'privacy_mode'.*'hashed'"):
        privacy_mode("hashed")


def test_the_dag_takes_the_mode_as_a_param_and_hands_it_to_normalise():
    from airflow.dag_processing.dagbag import DagBag

    from tests.unit.test_dag_integrity import REPO_ROOT

    dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).dags["watchlist_screening"]
    assert dag.params["privacy_mode"] is None
    normalise = dag.get_task("normalise")
    assert "--privacy-mode" in normalise.application_args
    assert "privacy_mode" in normalise.application_args[normalise.application_args.index("--privacy-mode") + 1]


ROW = {"scan_id": "LHR-1", "subject_id": "S1", "airport": "LHR", "scan_day": dt.date(2031, 1, 1),
       "match_probability": 0.9, "match_weight": 7.5, "model_version": "m1", "photo_similarity": 0.8,
       "evidence": {"face_embedding": 6.0, "identity": 2.5},
       **{f"passenger_{f}": f"p-{f}" for f in PASSENGER_FIELDS}, **{f"subject_{f}": f"s-{f}" for f in SUBJECT_FIELDS}}


def test_an_encoded_alert_carries_ids_scores_evidence_and_the_clear_physique_only():
    alert = build_alert(ROW, privacy_mode="encoded")
    assert set(alert["passenger"]) == set(ENCODED_PASSENGER_FIELDS)
    assert set(alert["subject"]) == set(ENCODED_SUBJECT_FIELDS)
    assert alert["evidence"] == {"face_embedding": 6.0, "identity": 2.5}
    assert (alert["scan_id"], alert["subject_id"], alert["match_probability"]) == ("LHR-1", "S1", 0.9)
    # the clear mode's alert is what it was
    assert set(build_alert(ROW)["passenger"]) == set(PASSENGER_FIELDS)
