"""Model and run reports: Splink's charts inlined for offline use, a parameter table with
sources, a waterfall per alert, and scoring left exactly as it was."""
from __future__ import annotations

import json
import re

import pytest

from tests.unit.linkage_data import DAY, generate_day, trained_day
from watchlist_screening.linkage import scoring, training
from watchlist_screening.reporting import model_report, run_report
from watchlist_screening.reporting.links import alert_anchor
from watchlist_screening.linkage.comparisons import M_PRIORS


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    landing = generate_day(tmp_path_factory.mktemp("landing"), watchlist=3000, per_airport=2000, sightings=12, seed=8)
    con, _, model, notes = trained_day(landing, training.TrainingConfig(u_random_pairs=2e5, photo_sample_pairs=5_000_000))
    scoring.score(con, model, threshold=0.5)
    return con, model, notes


def _specs(page: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/json" id="([^"]+)-spec">(.*?)</script>', page, re.S)
    return [json.loads(body) for _, body in blocks]


def _offline(page: str) -> None:
    assert "vegaEmbed" in page and "bundled with Splink" in page
    assert not re.search(r"<script[^>]+src=", page), "a report must not load scripts from the network"


def test_model_report_has_charts_parameters_and_sources(scored, tmp_path):
    _, model, notes = scored
    path = model_report.write_model_report(tmp_path, "20261121-abc", model, notes)
    assert path == tmp_path / "20261121-abc.html"
    page = path.read_text()
    _offline(page)
    specs = _specs(page)
    assert len(specs) == 2 and all(s["data"]["values"] for s in specs)  # match weights, m/u
    for name in M_PRIORS:
        assert f"<td>{name}</td>" in page
    assert "stated prior (comparisons.M_PRIORS)" in page           # names, dates...
    assert "watchlist duplicate listings" in page                  # photo/sex/eye m
    assert "photo similarities" in page                            # photo u
    assert "confident photo+physique" in page                      # lambda
    rows = model_report.parameter_rows(model, notes)
    levels = sum(1 for c in model["comparisons"] for lvl in c["comparison_levels"] if not lvl.get("is_null_level"))
    assert len(rows) == levels + 1


def test_explain_matches_reproduces_scores_without_changing_them(scored):
    con, model, _ = scored
    before = scoring.match_rows(con)
    records = run_report.explain_matches(con, model)
    assert scoring.match_rows(con) == before
    assert len(records) == len(before) > 0
    weights = {(r["scan_id"], r["subject_id"]): r["match_weight"] for r in before}
    for r in records:
        assert r["source_dataset_l"] == "passengers"
        assert r["match_weight"] == pytest.approx(weights[(r["unique_id_l"], r["unique_id_r"])])
        assert r["face_embedding_l"] == "photo" and r["face_embedding_r"].startswith("photo (cosine")
    probabilities = [r["match_probability"] for r in records]
    assert probabilities == sorted(probabilities, reverse=True)


def test_run_report_has_a_waterfall_and_anchor_per_alert(scored, tmp_path):
    con, model, _ = scored
    path = run_report.write_run_report(con, tmp_path, DAY, "20261121-abc", model, summary={"passengers": 4000},
                                       base_url="https://reports.example/watchlist")
    assert path == tmp_path / f"run-{DAY}.html"
    page = path.read_text()
    _offline(page)
    pairs = con.execute("SELECT scan_id, subject_id FROM matches").fetchall()
    template = re.search(r'<script type="application/json" id="waterfall-template">(.*?)</script>', page, re.S)
    assert json.loads(template.group(1))["layer"] or True  # Splink's waterfall spec, written once
    charts = re.findall(r'<script type="application/json" id="wf-\d+-values">(.*?)</script>', page, re.S)
    assert len(charts) == len(pairs)
    for values in map(json.loads, charts):
        columns = [v["column_name"] for v in values]
        assert columns[0] == "Prior" and columns[-1] == "Final score" and "face_embedding" in columns
    for scan, subject in pairs:
        assert f'id="{alert_anchor(scan, subject)}"' in page
    assert 'href="https://reports.example/watchlist/20261121-abc.html"' in page
    assert not re.search(r"-?0\.\d{5}, -?0\.\d{5}, -?0\.\d{5}", page)  # no raw embeddings


def test_a_day_without_alerts_still_gets_a_page(scored, tmp_path):
    con, model, _ = scored
    con.execute("CREATE OR REPLACE TABLE no_matches AS SELECT * FROM matches WHERE false")
    path = run_report.write_run_report(con, tmp_path, DAY, "v1", model, pairs_table="no_matches")
    assert "No alerts this day." in path.read_text()
