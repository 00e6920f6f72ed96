"""The run report (`<report_dir>/run-<day>.html`), one per screened day: every alert
with the two records side by side and Splink's waterfall chart (how the prior and each
comparison add up to the final match weight). Alerts link to their section:
`<run report URL>#<alert_anchor>` (links.py).

Scoring is not changed: the waterfall needs Splink's comparison-vector columns and the
compared values, which the daily scoring does not keep (it would cost gigabytes of
embeddings), so `explain_matches` re-runs Splink's predict on the matched pairs only, with
a Linker built from the same model and the same tables.
"""
from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any, Mapping, Sequence

import duckdb

from watchlist_screening.linkage import linker as splink_linker
from watchlist_screening.linkage.encoded_tables import CLK_COLUMNS
from watchlist_screening.linkage.scoring import MATCHES
from watchlist_screening.linkage.tables import PASSENGERS, WATCHLIST
from watchlist_screening.reporting.html_page import (
    clean, esc, json_for_html, num_cell, page, shared_chart, weight_cell, write_page,
)
from watchlist_screening.reporting.links import (
    alert_anchor, day_text as _day, model_report_path, report_url, run_report_path,
)

EXPLAIN_BLOCKED_PAIRS = "explain_blocked_pairs"


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
    with splink_linker.predictions(con, _explain_model(model), EXPLAIN_BLOCKED_PAIRS) as predictions:
        rel = con.sql(f"""
            SELECT pr.* EXCLUDE (face_embedding_l, face_embedding_r),
                   array_cosine_similarity(pr.face_embedding_l, pr.face_embedding_r) AS _photo_cosine
            FROM {predictions} pr""")
        rows = rel.fetchall()
        names = rel.columns
    records = [_passenger_left(dict(zip(names, row))) for row in rows]
    rank: dict[tuple, int] = {}
    for scan, subject in con.execute(f"SELECT scan_id, subject_id FROM {pairs_table} ORDER BY {order}").fetchall():
        rank.setdefault((scan, subject), len(rank))
    records.sort(key=lambda r: rank.get((r["unique_id_l"], r["unique_id_r"]), len(rank)))
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
        if key[:-2] in CLK_COLUMNS and key[-2:] in ("_l", "_r"):
            # an encoded day's CLKs (issue 17): 1024 bits each that nobody reads; the
            # evidence is the identity level they fell in
            record[key] = _clk_text(value)
            continue
        # lists (names, dates) as text, so charts and tables show "1979-10-18" rather than
        # Python reprs; the values are for display only, scores are already computed
        if isinstance(value, (list, tuple)) and (key.endswith("_l") or key.endswith("_r")):
            record[key] = "; ".join(_fmt_value(v) for v in value) if value else "–"
    cosine = record.pop("_photo_cosine", None)
    record["face_embedding_l"] = "photo"
    record["face_embedding_r"] = "photo" if cosine is None else f"photo (cosine {cosine:.3f})"
    record["photo_cosine"] = cosine
    return record


def _clk_text(value) -> str:
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return "–"
    count = len(value) if isinstance(value, (list, tuple)) else 1
    return "encoded (1 CLK)" if count == 1 else f"encoded ({count} CLKs)"


def waterfall_specs(model: dict, records: Sequence[dict], filter_nulls: bool = False) -> list[dict]:
    """One Vega-Lite spec of Splink's waterfall chart per prediction record."""
    if not records:
        return []
    linker = splink_linker.schema_linker(_explain_model(model))
    return [linker.visualisations.waterfall_chart([r], filter_nulls=filter_nulls).chart_dict for r in records]


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
    head = [f"<h1>Screening run {esc(_day(day))}</h1>"]
    facts = {"scan day": _day(day), "model version": model_version, "alerts": len(records), **(summary or {})}
    head.append("<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts.items())
                + "</table>")
    if model_report_href:
        head.append(f'<p>Model report: <a href="{esc(model_report_href)}">{esc(model_version)}</a></p>')
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
        index.append(f'<tr><td><a href="#{anchor}">{i + 1}</a></td><td>{esc(scan)}</td><td>{esc(subject)}</td>'
                     f"{num_cell(r.get('match_probability'), 4)}{weight_cell(r.get('match_weight'))}"
                     f"{num_cell(r.get('photo_cosine'), 3)}<td>{esc(group)}</td></tr>")
        side = "".join(
            f"<tr><th>{esc(label)}</th><td>{esc(_fmt_value(r.get(col + '_l')))}</td>"
            f"<td>{esc(_fmt_value(r.get(col + '_r')))}</td></tr>" for label, col in _SIDE_BY_SIDE)
        levels = "".join(
            f"<tr><td>{esc(name)}</td><td class=num>{esc(r.get('gamma_' + name))}</td>{weight_cell(r.get('mw_' + name))}</tr>"
            for name in comparisons)
        chart = (shared_chart(f"wf-{i}", "waterfall-template", specs[i]["data"]["values"]) if i < len(specs)
                 else '<p class="muted">(chart left out: see max_charts)</p>')
        sections.append(
            f'<section class="alert" id="{anchor}"><h3>{i + 1}. {esc(scan)} → {esc(subject)} '
            f"— probability {r.get('match_probability', 0):.4f}, weight {r.get('match_weight', 0):+.2f}"
            f"{' — group ' + esc(group) if group != '' else ''}</h3>"
            f'<div style="display:flex;gap:2rem;flex-wrap:wrap"><table><tr><th></th><th>passenger</th><th>watchlist</th></tr>{side}</table>'
            f"<table><tr><th>comparison</th><th>level (γ)</th><th>weight</th></tr>{levels}</table></div>{chart}</section>")
    index.append("</table>")
    if not records:
        index = ["<h2>Alerts</h2><p>No alerts this day.</p>"]
    template = ""
    if specs:
        shared = copy.deepcopy(specs[0])
        shared["data"] = {"values": []}
        template = f'<script type="application/json" id="waterfall-template">{json_for_html(clean(shared))}</script>'
    return page(f"Run {_day(day)}", "\n".join(head + index + [template] + sections))


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
    write_page(run_report_path(report_dir, day),
           run_report_html(day, model_version, model, records, summary, href, groups, max_charts))
    return run_report_path(report_dir, day)


def write_run_report_for_day(dsn: str, report_dir: Path, day: dt.date, *, base_url: str | None = None) -> Path:
    """The run report of a day already scored into warehouse.matches: loads the day's
    tables and its matches from Postgres, the model from the registry, and writes the page
    (for a DAG task after score_day, or to regenerate a report)."""
    import psycopg

    from watchlist_screening.linkage import registry, tables
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
    counts = tables.load_tables(con, dsn, day, day_watchlist_version(dsn, day))
    con.execute(f"CREATE OR REPLACE TABLE {MATCHES} (scan_id VARCHAR, subject_id VARCHAR, match_probability DOUBLE, "
                "match_weight DOUBLE, group_id VARCHAR)")
    if matches:  # DuckDB's executemany refuses an empty list; most days have no match
        con.executemany(f"INSERT INTO {MATCHES} VALUES (?, ?, ?, ?, ?)", [m[:5] for m in matches])
    summary = {"passengers": counts[PASSENGERS], "watchlist entries": counts[WATCHLIST],
               "candidate pairs": run[1] if run else None}
    return write_run_report(con, report_dir, day, stored.version, stored.model, summary=summary, base_url=base_url)


def write_run_report_without_model(report_dir: Path, day: dt.date | str, model_label: str, candidate_pairs: int) -> Path:
    """The run report of a day scored without a model (nothing to train on): no alert, no
    model report, `model_label` where the model version would be. It replaces an earlier
    run's report of the day, whose alerts are withdrawn."""
    path = run_report_path(report_dir, day)
    write_page(path, run_report_html(day, model_label, {"comparisons": []}, [], {"candidate pairs": candidate_pairs}))
    return path
