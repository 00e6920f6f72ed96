"""The model report (`<report_dir>/<model_version>.html`), one per model version:
Splink's match weights chart and m/u parameters chart, a table of every parameter (m, u,
Bayes factor, match weight) with where it came from (stated prior, duplicate listings,
random sampling, EM, the photo similarity sample...), and the training notes as the
trainer returned them. Reviewers read it to see why the model weighs evidence as it does.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from watchlist_screening.linkage.linker import schema_linker
from watchlist_screening.reporting.html_page import chart, esc, num_cell, page, weight_cell, write_page
from watchlist_screening.reporting.links import model_report_path


def model_chart_specs(model: dict) -> dict[str, dict]:
    """Splink's match weights chart and m/u parameters chart for a model dict."""
    linker = schema_linker(model)
    return {
        "match_weights": linker.visualisations.match_weights_chart().chart_dict,
        "m_u_parameters": linker.visualisations.m_u_parameters_chart().chart_dict,
    }


def parameter_rows(model: dict, notes: Mapping[str, Any] | None = None) -> list[dict]:
    """Every parameter of the model with its value and where it came from (read from the
    training notes that training.train() returns and the registry stores)."""
    params = (notes or {}).get("parameters", {})
    m_sources = params.get("m_sources", {})
    m_physical = params.get("m_physical", {})
    appearance = params.get("u_appearance_correlated", {})
    lam = model.get("probability_two_random_records_match")
    lam_note = params.get("lambda", {})
    rows = [{
        "comparison": "prior (λ)", "level": "probability two random records match",
        "m": None, "u": None, "bayes_factor": _bf(lam), "match_weight": _log2(_bf(lam)),
        "value": lam, "m_source": "", "u_source": lam_note.get("source", "model setting"),
    }]
    label_m = ((notes or {}).get("labels", {}).get("m") or {})
    label_m = label_m.get("comparisons", {}) if isinstance(label_m, dict) else {}
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        if name in label_m:
            m_source = (f"reviewer labels ({notes['labels']['confirmed']} confirmed pairs), "
                        "shrunk towards the stated prior")
        elif m_sources.get(name) == "data":
            m_source = m_physical.get("source", "estimated from data")
        elif m_sources.get(name) == "prior":
            m_source = "stated prior (comparisons.M_PRIORS)"
        elif m_sources.get(name) == "em":
            fit = params.get("em", {}).get("comparisons", {}).get(name, {})
            m_source = (f"EM on the day ({fit.get('evidence_pairs')} expected matches against a uniform prior "
                        f"of {fit.get('m_prior_pairs')} pseudo-pair(s); moved {fit.get('m_moved_from_prior')} "
                        "from it in total variation)")
        else:
            m_source = "model file"
        if m_sources.get(name) == "em":
            u_source = "EM over the day's candidate pairs (every m held)"
        elif f"u_{name}" in params:
            u_source = params[f"u_{name}"].get("source", "estimated")
        elif name in appearance:
            u_source = appearance.get("source", "estimated")
        elif notes:
            u_source = "Splink random sampling (passenger × watchlist pairs)"
        else:
            u_source = "model file"
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            bf = m / u if m is not None and u else None
            rows.append({
                "comparison": name, "level": level.get("label_for_charts") or level.get("sql_condition"),
                "m": m, "u": u, "bayes_factor": bf, "match_weight": _log2(bf), "value": None,
                "m_source": m_source, "u_source": u_source,
            })
    return rows


def _bf(p):
    return p / (1 - p) if p is not None and 0 < p < 1 else None


def _log2(x):
    return math.log2(x) if x is not None and x > 0 else None


def model_report_html(model_version: str, model: dict, notes: Mapping[str, Any] | None = None,
                      stored: Mapping[str, Any] | None = None) -> str:
    """The model report page. `stored` may add registry facts (training_from/to, trained_at...)."""
    specs = model_chart_specs(model)
    rows = parameter_rows(model, notes)
    facts = {"model version": model_version,
             "λ (probability two random records match)": model.get("probability_two_random_records_match"),
             "comparisons": len(model["comparisons"]), **(stored or {})}
    table = ["<table><tr><th>comparison</th><th>level</th><th>m</th><th>u</th><th>Bayes factor</th>"
             "<th>match weight</th><th>m from</th><th>u from</th></tr>"]
    for r in rows:
        table.append(f"<tr><td>{esc(r['comparison'])}</td><td>{esc(r['level'])}</td>"
                     f"{num_cell(r['m'] if r['value'] is None else r['value'], 4)}{num_cell(r['u'], 4)}"
                     f"{num_cell(r['bayes_factor'], 3)}{weight_cell(r['match_weight'])}"
                     f"<td>{esc(r['m_source'])}</td><td>{esc(r['u_source'])}</td></tr>")
    table.append("</table>")
    body = [
        f"<h1>Linkage model {esc(model_version)}</h1>",
        "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts.items()) + "</table>",
        "<p>A pair's match weight is the prior's weight plus one weight per comparison "
        "(log<sub>2</sub> of m/u for the level the pair falls in); the match probability is "
        "2<sup>w</sup>/(1+2<sup>w</sup>).</p>",
        "<h2>Match weights</h2>", chart("match-weights", specs["match_weights"], eager=True),
        "<h2>m and u probabilities</h2>", chart("m-u-parameters", specs["m_u_parameters"], eager=True),
        "<h2>Parameters and where they came from</h2>", "".join(table),
        *photo_level_section(notes),
        *label_section(notes),
        "<h2>Training notes</h2>",
        "<p>As recorded at training time (training.train → registry.save_model).</p>",
        f"<pre>{esc(json.dumps(notes or {}, indent=2, default=str))}</pre>",
        "<h2>Model (Splink settings)</h2>",
        f"<details><summary>Splink model JSON</summary><pre>{esc(json.dumps(model, indent=2, default=str))}</pre></details>",
    ]
    return page(f"Model {model_version}", "\n".join(body))


def photo_level_section(notes: Mapping[str, Any] | None) -> list[str]:
    """The photo level boundaries the day's data chose, and what each was read off
    (em_training.py / photo_levels.py); empty for a model with stated levels."""
    info = ((notes or {}).get("parameters") or {}).get("photo_levels")
    if not info:
        return []
    out = ["<h2>Photo levels</h2>",
           f"<p>Chosen from this day's data: {esc(info.get('impostor_sample_pairs'))} random passenger × "
           f"watchlist pairs (the strangers' distribution) and the "
           f"{esc(info.get('candidates_above_impostor_tail'))} candidate pairs more alike than its far tail "
           "(where matches and look-alikes are).</p>",
           "<table><tr><th>cosine at least</th><th>read off</th></tr>"]
    out += [f"<tr>{num_cell(level['threshold'])}<td>{esc(level['from'])}</td></tr>" for level in info.get("levels", [])]
    out.append("</table>")
    return out


def label_section(notes: Mapping[str, Any] | None) -> list[str]:
    """What reviewer labels changed: the labelled pairs kept at the pipeline's threshold
    before and after, at the recommended threshold, and each refined m (empty without labels)."""
    info = (notes or {}).get("labels")
    if not info:
        return []
    out = ["<h2>Reviewer labels</h2>",
           f"<p>{esc(info.get('decided_pairs'))} reviewed pairs ({esc(info.get('confirmed'))} confirmed, "
           f"{esc(info.get('false_positive'))} false positives; "
           f"{esc(info.get('pairs_with_records'))} with their records found).</p>"]
    outcomes = [(label, info.get(key)) for label, key in
                (("model before labels", "before"), ("model after labels", "after"),
                 ("after labels, at the recommended threshold", "at_recommended_threshold"),
                 ("model (labels left m unchanged)", "at_threshold")) if info.get(key)]
    if outcomes:
        out.append("<table><tr><th>labelled pairs scored by</th><th>threshold</th><th>confirmed kept</th>"
                   "<th>false positives kept</th></tr>")
        out += [f"<tr><td>{esc(label)}</td>{num_cell(o['threshold'])}<td>{o['confirmed_kept']} of {o['confirmed']}</td>"
                f"<td>{o['false_positives_kept']} of {o['false_positives']}</td></tr>" for label, o in outcomes]
        out.append("</table>")
    if info.get("recommended_threshold") is not None:
        out.append(f"<p>Recommended match threshold: <b>{esc(info['recommended_threshold'])}</b> "
                   f"({esc(info.get('calibration', ''))}).</p>")
    m = info.get("m")
    if isinstance(m, dict):
        out.append("<table><tr><th>comparison</th><th>m before (prior)</th><th>m from labels</th><th>m used</th></tr>")
        for name, change in m.get("comparisons", {}).items():
            cells = ["<td>" + ", ".join(f"{v:.3f}" for v in change[k]) + "</td>" for k in ("before", "from_labels", "after")]
            out.append(f"<tr><td>{esc(name)}</td>{''.join(cells)}</tr>")
        out.append("</table>")
    elif m:
        out.append(f"<p>m: {esc(m)}</p>")
    return out


def write_model_report(report_dir: Path, model_version: str, model: dict, notes: Mapping[str, Any] | None = None,
                       stored: Mapping[str, Any] | None = None) -> Path:
    """Write `<report_dir>/<model_version>.html`; return its path."""
    path = model_report_path(report_dir, model_version)
    write_page(path, model_report_html(model_version, model, notes, stored))
    return path


def write_model_report_from_registry(dsn: str, report_dir: Path, model_version: str | None = None) -> Path:
    """The model report of a stored model (the newest when no version is given), with the
    training notes from warehouse.models; for a DAG task after ensure_model, whether the
    model was just trained or reused."""
    import psycopg

    query = ("SELECT model_version, trained_at, training_from, training_to, watchlist_version, model_json, "
             "training_notes FROM warehouse.models")
    with psycopg.connect(dsn) as conn:
        row = (conn.execute(query + " WHERE model_version = %s", (model_version,)).fetchone() if model_version
               else conn.execute(query + " ORDER BY trained_at DESC LIMIT 1").fetchone())
    if row is None:
        raise ValueError(f"model {model_version or '(newest)'} is not in warehouse.models")
    version, trained_at, training_from, training_to, watchlist_version, model, notes = row
    stored = {"trained at": trained_at, "trained on days": f"{training_from} – {training_to}",
              "watchlist version": watchlist_version}
    return write_model_report(report_dir, version, model, notes, stored)
