"""HTML reports for reviewers: one per model version, one per screened day.

- Model report (`<report_dir>/<model_version>.html`): Splink's match weights chart and
  m/u parameters chart, a table of every parameter (m, u, Bayes factor, match weight) with
  where it came from (stated prior, duplicate listings, random sampling, the photo
  similarity sample...), and the training notes as `training.train()` returned them.
- Run report (`<report_dir>/run-<day>.html`): every alert of the day with the two records
  side by side and Splink's waterfall chart (how the prior and each comparison add up to
  the final match weight). Alerts link to their section: `<run report URL>#<alert_anchor>`.

Works offline: the Vega, Vega-Lite and Vega-Embed builds that Splink ships inside its
wheel are inlined once per page (no CDN). Charts of the run report render lazily, when
scrolled into view, so a day with thousands of alerts still opens quickly.

Scoring is not changed: the waterfall needs Splink's comparison-vector columns and the
compared values, which the daily scoring does not keep (it would cost gigabytes of
embeddings), so `explain_matches` re-runs Splink's predict on the matched pairs only, with
a Linker built from the same model and the same tables.
"""
from __future__ import annotations

import copy
import datetime as dt
import html
import importlib.resources
import json
import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import duckdb

from watchlist_screening.linkage.data import EMBEDDING_DIM, PASSENGERS, WATCHLIST
from watchlist_screening.linkage.report_links import (  # noqa: F401 - re-exported: reports.report_url etc.
    alert_anchor, alert_report_url, day_text as _day, model_report_path, report_url, run_report_path,
)
from watchlist_screening.linkage.scoring import MATCHES

log = logging.getLogger(__name__)

EXPLAIN_BLOCKED_PAIRS = "explain_blocked_pairs"
# The Splink-shaped columns of data.load_arrow, for a Linker that only needs the schema.
_SCHEMA = (f"unique_id VARCHAR, surname_norm VARCHAR, name_keys VARCHAR[], all_dobs DATE[], "
           f"place_of_birth_norm VARCHAR, nationality VARCHAR, sex VARCHAR, height_cm DOUBLE, "
           f"eye_colour VARCHAR, face_embedding FLOAT[{EMBEDDING_DIM}]")
_CHART_LIBRARIES = ("vega", "vega-lite", "vega-embed")  # load order matters
_CDN = "https://cdn.jsdelivr.net/npm/{name}@{version}"


# ----------------------------------------------------------------------------- Splink pieces

def _schema_linker(model: dict):
    """A Linker over empty tables of the scoring schema: enough for model charts."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE {PASSENGERS} ({_SCHEMA}); CREATE TABLE {WATCHLIST} ({_SCHEMA})")
    return _linker(con, model)


def _linker(con: duckdb.DuckDBPyConnection, model: dict):
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(con)
    return Linker(
        [db_api.register(PASSENGERS, dataset_display_name=PASSENGERS),
         db_api.register(WATCHLIST, dataset_display_name=WATCHLIST)],
        copy.deepcopy(model), log_level=logging.WARNING,
    ), db_api


def _explain_model(model: dict) -> dict:
    """The model with the columns a waterfall needs kept (same parameters, same scores)."""
    model = copy.deepcopy(model)
    model["retain_matching_columns"] = True
    model["retain_intermediate_calculation_columns"] = True
    return model


def explain_matches(con: duckdb.DuckDBPyConnection, model: dict, pairs_table: str = MATCHES,
                    limit: int | None = None) -> list[dict]:
    """Splink prediction records (comparison vectors, match weights, compared values) for
    the pairs in `pairs_table` (scan_id, subject_id), passenger on the left, in the order
    of the table's match_probability (highest first) when it has one.

    Needs the `passengers` and `watchlist` tables the pairs were scored on. Re-runs
    Splink's predict on these pairs only, with the model unchanged; the photo columns are
    replaced by a short description (the 128 numbers are biometric data nobody reads) and
    list values (names, dates of birth) joined into text for display.
    """
    columns = {r[0] for r in con.execute(f"DESCRIBE {pairs_table}").fetchall()}
    order = "match_probability DESC, scan_id, subject_id" if "match_probability" in columns else "scan_id, subject_id"
    con.execute(f"""
        CREATE OR REPLACE TABLE {EXPLAIN_BLOCKED_PAIRS} AS
        SELECT '0' AS match_key, '{PASSENGERS}-__-' || scan_id AS join_key_l,
               '{WATCHLIST}-__-' || subject_id AS join_key_r
        FROM (SELECT DISTINCT scan_id, subject_id FROM {pairs_table})""")
    if not con.execute(f"SELECT count(*) FROM {EXPLAIN_BLOCKED_PAIRS}").fetchall()[0][0]:
        return []
    linker, db_api = _linker(con, _explain_model(model))
    linker.table_management.register_blocked_pairs_for_predict(db_api.register(EXPLAIN_BLOCKED_PAIRS))
    predictions = linker.inference.predict(warning_mode="never")
    rel = con.sql(f"""
        SELECT pr.* EXCLUDE (face_embedding_l, face_embedding_r),
               array_cosine_similarity(pr.face_embedding_l, pr.face_embedding_r) AS _photo_cosine
        FROM {predictions.physical_name} pr""")
    rows = rel.fetchall()
    names = rel.columns
    records = [_passenger_left(dict(zip(names, row))) for row in rows]
    rank: dict[tuple, int] = {}
    for scan, subject in con.execute(f"SELECT scan_id, subject_id FROM {pairs_table} ORDER BY {order}").fetchall():
        rank.setdefault((scan, subject), len(rank))
    records.sort(key=lambda r: rank.get((r["unique_id_l"], r["unique_id_r"]), len(rank)))
    predictions.drop_table_from_database_and_remove_from_cache()
    return records[:limit] if limit is not None else records


def _passenger_left(record: dict) -> dict:
    if record.get("source_dataset_l") == WATCHLIST:
        swapped = {}
        for key, value in record.items():
            if key.endswith("_l"):
                swapped[key[:-2] + "_r"] = value
            elif key.endswith("_r"):
                swapped[key[:-2] + "_l"] = value
            else:
                swapped[key] = value
        record = swapped
    for key, value in list(record.items()):
        # lists (names, dates) as text, so charts and tables show "1979-10-18" rather than
        # Python reprs; the values are for display only, scores are already computed
        if isinstance(value, (list, tuple)) and (key.endswith("_l") or key.endswith("_r")):
            record[key] = "; ".join(_fmt_value(v) for v in value) if value else "–"
    cosine = record.pop("_photo_cosine", None)
    record["face_embedding_l"] = "photo"
    record["face_embedding_r"] = "photo" if cosine is None else f"photo (cosine {cosine:.3f})"
    record["photo_cosine"] = cosine
    return record


def waterfall_specs(model: dict, records: Sequence[dict], filter_nulls: bool = False) -> list[dict]:
    """One Vega-Lite spec of Splink's waterfall chart per prediction record."""
    if not records:
        return []
    linker = _schema_linker(_explain_model(model))[0]
    return [linker.visualisations.waterfall_chart([r], filter_nulls=filter_nulls).chart_dict for r in records]


def model_chart_specs(model: dict) -> dict[str, dict]:
    """Splink's match weights chart and m/u parameters chart for a model dict."""
    linker = _schema_linker(model)[0]
    return {
        "match_weights": linker.visualisations.match_weights_chart().chart_dict,
        "m_u_parameters": linker.visualisations.m_u_parameters_chart().chart_dict,
    }


# ----------------------------------------------------------------------------- parameters

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


# ----------------------------------------------------------------------------- HTML

def chart_libraries_html() -> str:
    """<script> tags with Splink's bundled Vega/Vega-Lite/Vega-Embed inlined; falls back to
    the CDN (and says so in the page) only if the Splink wheel no longer ships them."""
    folder = importlib.resources.files("splink").joinpath("internals/files/external_js")
    tags = []
    for name in _CHART_LIBRARIES:
        found = sorted(p for p in folder.iterdir() if p.name.startswith(name + "@")) if folder.is_dir() else []
        if found:
            source = found[-1].read_text(encoding="utf-8").replace("</script", "<\\/script")
            tags.append(f"<script>/* {found[-1].name}, bundled with Splink */\n{source}\n</script>")
        else:
            log.warning("Splink ships no %s build: the report loads it from a CDN", name)
            version = {"vega": "5", "vega-lite": "5", "vega-embed": "6"}[name]
            tags.append(f'<script src="{_CDN.format(name=name, version=version)}"></script>')
    return "\n".join(tags)


def _json_for_html(value) -> str:
    return (json.dumps(value, default=_json_default, allow_nan=False)
            .replace("<", r"\u003c").replace(">", r"\u003e").replace("&", r"\u0026"))


def _json_default(o):
    if isinstance(o, (dt.date, dt.datetime)):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def _clean(value):
    """JSON-safe copy: NaN/inf become null (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:#0a6b2d}.neg{color:#a11}.muted{color:#777}section.alert{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
section.alert:target{border-color:#d80;box-shadow:0 0 0 3px #fd8}.chart{min-height:120px}pre{background:#f7f7f7;padding:.75rem;overflow:auto;font-size:.8rem}
"""

_RENDER_JS = """
<script>
(function(){
  function render(div){
    if(div.dataset.rendered)return; div.dataset.rendered='1';
    var spec=JSON.parse(document.getElementById(div.dataset.spec).textContent);
    if(div.dataset.values){  // a shared spec (e.g. the waterfall) with this chart's data
      spec.data={values:JSON.parse(document.getElementById(div.dataset.values).textContent)};
    }
    vegaEmbed(div,spec,{actions:false}).catch(function(e){div.textContent='Chart error: '+(e.message||e);});
  }
  var charts=[].slice.call(document.querySelectorAll('div.chart[data-spec]'));
  if(!('IntersectionObserver' in window)){charts.forEach(render);return;}
  var io=new IntersectionObserver(function(es){es.forEach(function(e){if(e.isIntersecting){render(e.target);io.unobserve(e.target);}});},{rootMargin:'600px'});
  charts.forEach(function(d){ if(d.dataset.eager){render(d);} else {io.observe(d);} });
})();
</script>"""


def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _num(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '<td class="num muted">–</td>'
    if isinstance(value, float) and (abs(value) < 1e-3 and value != 0):
        return f'<td class="num">{value:.3e}</td>'
    return f'<td class="num">{value:,.{digits}f}</td>'


def _weight(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '<td class="num muted">–</td>'
    cls = "pos" if value > 0 else "neg" if value < 0 else ""
    return f'<td class="num {cls}">{value:+.2f}</td>'


def _chart(chart_id: str, spec: dict, eager: bool = False) -> str:
    return (f'<script type="application/json" id="{chart_id}-spec">{_json_for_html(_clean(spec))}</script>'
            f'<div class="chart" id="{chart_id}" data-spec="{chart_id}-spec"{" data-eager=1" if eager else ""}></div>')


def _shared_chart(chart_id: str, template_id: str, values: list) -> str:
    """A chart whose spec is the page's shared template (written once) plus its own data:
    a day's waterfalls differ only in their data, so the page stays small."""
    return (f'<script type="application/json" id="{chart_id}-values">{_json_for_html(_clean(values))}</script>'
            f'<div class="chart" id="{chart_id}" data-spec="{template_id}" data-values="{chart_id}-values"></div>')


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title><style>{_STYLE}</style>\n{chart_libraries_html()}\n</head>"
            f"<body>{body}{_RENDER_JS}</body></html>")


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
        table.append(f"<tr><td>{_esc(r['comparison'])}</td><td>{_esc(r['level'])}</td>"
                     f"{_num(r['m'] if r['value'] is None else r['value'], 4)}{_num(r['u'], 4)}"
                     f"{_num(r['bayes_factor'], 3)}{_weight(r['match_weight'])}"
                     f"<td>{_esc(r['m_source'])}</td><td>{_esc(r['u_source'])}</td></tr>")
    table.append("</table>")
    body = [
        f"<h1>Linkage model {_esc(model_version)}</h1>",
        "<table>" + "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in facts.items()) + "</table>",
        "<p>A pair's match weight is the prior's weight plus one weight per comparison "
        "(log<sub>2</sub> of m/u for the level the pair falls in); the match probability is "
        "2<sup>w</sup>/(1+2<sup>w</sup>).</p>",
        "<h2>Match weights</h2>", _chart("match-weights", specs["match_weights"], eager=True),
        "<h2>m and u probabilities</h2>", _chart("m-u-parameters", specs["m_u_parameters"], eager=True),
        "<h2>Parameters and where they came from</h2>", "".join(table),
        *photo_level_section(notes),
        *label_section(notes),
        "<h2>Training notes</h2>",
        "<p>As recorded at training time (training.train → registry.save_model).</p>",
        f"<pre>{_esc(json.dumps(notes or {}, indent=2, default=str))}</pre>",
        "<h2>Model (Splink settings)</h2>",
        f"<details><summary>Splink model JSON</summary><pre>{_esc(json.dumps(model, indent=2, default=str))}</pre></details>",
    ]
    return _page(f"Model {model_version}", "\n".join(body))


def photo_level_section(notes: Mapping[str, Any] | None) -> list[str]:
    """The photo level boundaries the day's data chose, and what each was read off
    (em_training.py / photo_levels.py); empty for a model with stated levels."""
    info = ((notes or {}).get("parameters") or {}).get("photo_levels")
    if not info:
        return []
    out = ["<h2>Photo levels</h2>",
           f"<p>Chosen from this day's data: {_esc(info.get('impostor_sample_pairs'))} random passenger × "
           f"watchlist pairs (the strangers' distribution) and the "
           f"{_esc(info.get('candidates_above_impostor_tail'))} candidate pairs more alike than its far tail "
           "(where matches and look-alikes are).</p>",
           "<table><tr><th>cosine at least</th><th>read off</th></tr>"]
    out += [f"<tr>{_num(level['threshold'])}<td>{_esc(level['from'])}</td></tr>" for level in info.get("levels", [])]
    out.append("</table>")
    return out


def label_section(notes: Mapping[str, Any] | None) -> list[str]:
    """What reviewer labels changed: the labelled pairs kept at the pipeline's threshold
    before and after, at the recommended threshold, and each refined m (empty without labels)."""
    info = (notes or {}).get("labels")
    if not info:
        return []
    out = ["<h2>Reviewer labels</h2>",
           f"<p>{_esc(info.get('decided_pairs'))} reviewed pairs ({_esc(info.get('confirmed'))} confirmed, "
           f"{_esc(info.get('false_positive'))} false positives; "
           f"{_esc(info.get('pairs_with_records'))} with their records found).</p>"]
    outcomes = [(label, info.get(key)) for label, key in
                (("model before labels", "before"), ("model after labels", "after"),
                 ("after labels, at the recommended threshold", "at_recommended_threshold"),
                 ("model (labels left m unchanged)", "at_threshold")) if info.get(key)]
    if outcomes:
        out.append("<table><tr><th>labelled pairs scored by</th><th>threshold</th><th>confirmed kept</th>"
                   "<th>false positives kept</th></tr>")
        out += [f"<tr><td>{_esc(label)}</td>{_num(o['threshold'])}<td>{o['confirmed_kept']} of {o['confirmed']}</td>"
                f"<td>{o['false_positives_kept']} of {o['false_positives']}</td></tr>" for label, o in outcomes]
        out.append("</table>")
    if info.get("recommended_threshold") is not None:
        out.append(f"<p>Recommended match threshold: <b>{_esc(info['recommended_threshold'])}</b> "
                   f"({_esc(info.get('calibration', ''))}).</p>")
    m = info.get("m")
    if isinstance(m, dict):
        out.append("<table><tr><th>comparison</th><th>m before (prior)</th><th>m from labels</th><th>m used</th></tr>")
        for name, change in m.get("comparisons", {}).items():
            cells = ["<td>" + ", ".join(f"{v:.3f}" for v in change[k]) + "</td>" for k in ("before", "from_labels", "after")]
            out.append(f"<tr><td>{_esc(name)}</td>{''.join(cells)}</tr>")
        out.append("</table>")
    elif m:
        out.append(f"<p>m: {_esc(m)}</p>")
    return out


def write_model_report(report_dir: Path, model_version: str, model: dict, notes: Mapping[str, Any] | None = None,
                       stored: Mapping[str, Any] | None = None) -> Path:
    """Write `<report_dir>/<model_version>.html`; return its path."""
    path = model_report_path(report_dir, model_version)
    _write(path, model_report_html(model_version, model, notes, stored))
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


# Fields shown side by side in an alert (passenger value, watchlist value).
_SIDE_BY_SIDE = (
    ("names", "name_keys"), ("surname", "surname_norm"), ("date of birth", "all_dobs"),
    ("place of birth", "place_of_birth_norm"), ("nationality", "nationality"), ("sex", "sex"),
    ("height (cm)", "height_cm"), ("eye colour", "eye_colour"), ("photo", "face_embedding"),
)


def _fmt_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "; ".join(_fmt_value(v) for v in value) if value else "–"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return "–" if value is None else str(value)


def run_report_html(day: dt.date | str, model_version: str, model: dict, records: Sequence[dict],
                    summary: Mapping[str, Any] | None = None, model_report_href: str | None = None,
                    groups: Mapping[str, Any] | None = None, max_charts: int | None = None) -> str:
    """The run report page for a day's alerts. `records` come from explain_matches;
    `groups` maps scan_id → group id (e.g. scoring's group_id or grouping.py's);
    `max_charts` caps the waterfall charts (every alert still gets its section)."""
    specs = waterfall_specs(model, records if max_charts is None else records[:max_charts])
    comparisons = [c["output_column_name"] for c in model["comparisons"]]
    head = [f"<h1>Screening run {_esc(_day(day))}</h1>"]
    facts = {"scan day": _day(day), "model version": model_version, "alerts": len(records), **(summary or {})}
    head.append("<table>" + "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in facts.items())
                + "</table>")
    if model_report_href:
        head.append(f'<p>Model report: <a href="{_esc(model_report_href)}">{_esc(model_version)}</a></p>')
    head.append("<p>Each alert shows the passenger (left) and the watchlist entry (right), the "
                "level each comparison fell in with its match weight, and Splink's waterfall chart: "
                "the prior plus every comparison's weight gives the final match weight.</p>")
    index = ["<h2>Alerts</h2><table><tr><th>#</th><th>scan</th><th>watchlist entry</th><th>probability</th>"
             "<th>weight</th><th>photo cosine</th><th>group</th></tr>"]
    sections = []
    for i, r in enumerate(records):
        scan, subject = r["unique_id_l"], r["unique_id_r"]
        anchor = alert_anchor(scan, subject)
        group = (groups or {}).get(scan, "")
        index.append(f'<tr><td><a href="#{anchor}">{i + 1}</a></td><td>{_esc(scan)}</td><td>{_esc(subject)}</td>'
                     f"{_num(r.get('match_probability'), 4)}{_weight(r.get('match_weight'))}"
                     f"{_num(r.get('photo_cosine'), 3)}<td>{_esc(group)}</td></tr>")
        side = "".join(
            f"<tr><th>{_esc(label)}</th><td>{_esc(_fmt_value(r.get(col + '_l')))}</td>"
            f"<td>{_esc(_fmt_value(r.get(col + '_r')))}</td></tr>" for label, col in _SIDE_BY_SIDE)
        levels = "".join(
            f"<tr><td>{_esc(name)}</td><td class=num>{_esc(r.get('gamma_' + name))}</td>{_weight(r.get('mw_' + name))}</tr>"
            for name in comparisons)
        chart = (_shared_chart(f"wf-{i}", "waterfall-template", specs[i]["data"]["values"]) if i < len(specs)
                 else '<p class="muted">(chart left out: see max_charts)</p>')
        sections.append(
            f'<section class="alert" id="{anchor}"><h3>{i + 1}. {_esc(scan)} → {_esc(subject)} '
            f"— probability {r.get('match_probability', 0):.4f}, weight {r.get('match_weight', 0):+.2f}"
            f"{' — group ' + _esc(group) if group != '' else ''}</h3>"
            f'<div style="display:flex;gap:2rem;flex-wrap:wrap"><table><tr><th></th><th>passenger</th><th>watchlist</th></tr>{side}</table>'
            f"<table><tr><th>comparison</th><th>level (γ)</th><th>weight</th></tr>{levels}</table></div>{chart}</section>")
    index.append("</table>")
    if not records:
        index = ["<h2>Alerts</h2><p>No alerts this day.</p>"]
    template = ""
    if specs:
        shared = copy.deepcopy(specs[0])
        shared["data"] = {"values": []}
        template = f'<script type="application/json" id="waterfall-template">{_json_for_html(_clean(shared))}</script>'
    return _page(f"Run {_day(day)}", "\n".join(head + index + [template] + sections))


def write_run_report(con: duckdb.DuckDBPyConnection, report_dir: Path, day: dt.date | str, model_version: str,
                     model: dict, *, summary: Mapping[str, Any] | None = None, base_url: str | None = None,
                     pairs_table: str = MATCHES, max_charts: int | None = 5000) -> Path:
    """Write `<report_dir>/run-<day>.html` for the pairs scored into `pairs_table` on `con`
    (the connection scoring.score ran on, with `passengers`/`watchlist` loaded); return
    its path. Alerts then carry `alert_report_url(report_url(path, base_url), scan, subject)`."""
    records = explain_matches(con, model, pairs_table)
    groups = {}
    columns = {r[0] for r in con.execute(f"DESCRIBE {pairs_table}").fetchall()}
    if "group_id" in columns:
        groups = {s: g for s, g in con.execute(f"SELECT scan_id, group_id FROM {pairs_table}").fetchall()}
    href = report_url(model_report_path(report_dir, model_version), base_url)
    _write(run_report_path(report_dir, day),
           run_report_html(day, model_version, model, records, summary, href, groups, max_charts))
    return run_report_path(report_dir, day)


def write_run_report_for_day(dsn: str, report_dir: Path, day: dt.date, *, base_url: str | None = None) -> Path:
    """The run report of a day already scored into warehouse.matches: loads the day's
    tables and its matches from Postgres, the model from the registry, and writes the page
    (for a DAG task after score_day, or to regenerate a report)."""
    import psycopg

    from watchlist_screening.linkage import data, registry
    from watchlist_screening.linkage.screen_day import day_watchlist_version

    with psycopg.connect(dsn) as conn:
        matches = conn.execute(
            "SELECT scan_id, subject_id, match_probability, match_weight, group_id, model_version "
            "FROM warehouse.matches WHERE scan_day = %s", (day,)).fetchall()
        run = conn.execute("SELECT model_version, candidate_pairs FROM warehouse.day_runs WHERE scan_day = %s",
                           (day,)).fetchone()
    model_version = (matches[0][5] if matches else None) or (run[0] if run else None)
    stored = registry.load_model(dsn, model_version)
    if stored is None:
        raise ValueError(f"day {day} has no scored model version in warehouse.day_runs/matches")
    con = duckdb.connect()
    counts = data.load_tables(con, dsn, day, day_watchlist_version(dsn, day))
    con.execute(f"CREATE OR REPLACE TABLE {MATCHES} (scan_id VARCHAR, subject_id VARCHAR, match_probability DOUBLE, "
                "match_weight DOUBLE, group_id VARCHAR)")
    if matches:  # DuckDB's executemany refuses an empty list; most days have no match
        con.executemany(f"INSERT INTO {MATCHES} VALUES (?, ?, ?, ?, ?)", [m[:5] for m in matches])
    summary = {"passengers": counts[data.PASSENGERS], "watchlist entries": counts[data.WATCHLIST],
               "candidate pairs": run[1] if run else None}
    return write_run_report(con, report_dir, day, stored.version, stored.model, summary=summary, base_url=base_url)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # readers never see half a page

