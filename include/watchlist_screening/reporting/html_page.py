"""What every report page shares: one page shell that inlines the chart libraries, a
lazy chart renderer, JSON made safe inside <script>, and table-cell formatting.

The model report and the run report are different pages for different readers; keeping
their common HTML here means both look and behave alike, and neither imports the other.
Works offline: the Vega, Vega-Lite and Vega-Embed builds that Splink ships inside its
wheel are inlined once per page (no CDN). Charts render lazily, when scrolled into view,
so a day with thousands of alerts still opens quickly.
"""
from __future__ import annotations

import datetime as dt
import html
import importlib.resources
import json
import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)

_CHART_LIBRARIES = ("vega", "vega-lite", "vega-embed")  # load order matters
_CDN = "https://cdn.jsdelivr.net/npm/{name}@{version}"


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


def json_for_html(value) -> str:
    return (json.dumps(value, default=_json_default, allow_nan=False)
            .replace("<", r"\u003c").replace(">", r"\u003e").replace("&", r"\u0026"))


def _json_default(o):
    if isinstance(o, (dt.date, dt.datetime)):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def clean(value):
    """JSON-safe copy: NaN/inf become null (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
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


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def num_cell(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '<td class="num muted">–</td>'
    if isinstance(value, float) and (abs(value) < 1e-3 and value != 0):
        return f'<td class="num">{value:.3e}</td>'
    return f'<td class="num">{value:,.{digits}f}</td>'


def weight_cell(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return '<td class="num muted">–</td>'
    cls = "pos" if value > 0 else "neg" if value < 0 else ""
    return f'<td class="num {cls}">{value:+.2f}</td>'


def chart(chart_id: str, spec: dict, eager: bool = False) -> str:
    return (f'<script type="application/json" id="{chart_id}-spec">{json_for_html(clean(spec))}</script>'
            f'<div class="chart" id="{chart_id}" data-spec="{chart_id}-spec"{" data-eager=1" if eager else ""}></div>')


def shared_chart(chart_id: str, template_id: str, values: list) -> str:
    """A chart whose spec is the page's shared template (written once) plus its own data:
    a day's waterfalls differ only in their data, so the page stays small."""
    return (f'<script type="application/json" id="{chart_id}-values">{json_for_html(clean(values))}</script>'
            f'<div class="chart" id="{chart_id}" data-spec="{template_id}" data-values="{chart_id}-values"></div>')


def page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{_STYLE}</style>\n{chart_libraries_html()}\n</head>"
            f"<body>{body}{_RENDER_JS}</body></html>")


def write_page(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # readers never see half a page

