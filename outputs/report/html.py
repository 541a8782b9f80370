"""The insight report: one self-contained HTML file (inline CSS, plots as data URIs, nothing
fetched), each section opening with its headline finding."""

from __future__ import annotations

import html

import pandas as pd

from features.insights.model import Section
from outputs.report.plots import chart_data_uri

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:980px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.meta{color:#666;font-size:.9em}.headline{font-size:1.1em;font-weight:600;background:#f3f6fa;
border-left:4px solid #3b6ea8;padding:.5em .8em}figure{margin:1em 0}figure img{max-width:100%;height:auto}
figcaption{color:#666;font-size:.85em}table{border-collapse:collapse;font-size:.85em;margin:1em 0;width:100%}
th,td{border-bottom:1px solid #e5e5e5;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#fafafa}
.note{color:#8a5a00;background:#fff8e6;padding:.4em .8em}nav a{margin-right:1em}.flag{color:#b8514f;font-weight:600}
"""


def _number(value: float) -> str:
    return repr(float(value))


def _table(caption: str, frame: pd.DataFrame) -> str:
    body = frame.to_html(index=False, na_rep="", border=0, escape=True, float_format=lambda v: f"{v:g}")
    return f"<h3>{html.escape(caption)}</h3>\n{body}"


def _section(section: Section) -> str:
    h = section.headline
    parts = [f'<section id="{section.key}" class="report-section" data-section="{section.key}">',
             f"<h2>{html.escape(section.title)}</h2>",
             f'<p class="headline" data-insight-id="{html.escape(h.insight_id)}" data-number="{_number(h.number)}">'
             f"{html.escape(h.statement)}</p>"]
    if len(section.findings) > 1:
        parts.append('<ul class="findings">' + "".join(
            f'<li data-insight-id="{html.escape(f.insight_id)}" data-number="{_number(f.number)}">'
            f"{html.escape(f.statement)}</li>" for f in section.findings[1:]) + "</ul>")
    if section.note:
        parts.append(f'<p class="note">{html.escape(section.note)}</p>')
    for chart in section.charts:
        parts.append(f'<figure class="plot" data-chart="{chart.key}"><img src="{chart_data_uri(chart)}" '
                     f'alt="{html.escape(chart.title)}"><figcaption>{html.escape(chart.title)}</figcaption></figure>')
    parts += [_table(caption, frame) for caption, frame in section.tables]
    parts.append("</section>")
    return "\n".join(parts)


def render_report(sections: list[Section], insights: pd.DataFrame, run_date: str, as_of: str, models: dict,
                  top: int = 3) -> str:
    """Return the report's HTML: a header naming the run and its models, the top findings
    (the first ``top`` rows of ``insights``), links to the sections, then the sections."""
    risk = (models.get("risk_model") or {})
    scoring = (models.get("scoring_reference") or {})
    emotion = models.get("emotion") or {}
    used = (f"scoring reference {scoring.get('version')} · learner groups {models.get('learner_groups')} · "
            f"risk model {risk.get('version') or 'none'} ({risk.get('status')}) · emotion model "
            f"{emotion.get('model') if emotion.get('loaded') else 'not run'}")
    top_rows = insights.head(top)
    findings = "".join(f'<li data-insight-id="{html.escape(r.insight_id)}">{html.escape(r.statement)}</li>'
                       for r in top_rows.itertuples())
    nav = "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(_section(s) for s in sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>engage insights, run {html.escape(run_date)}</title><style>{STYLE}</style></head>
<body>
<header><h1>Engagement insights, run {html.escape(run_date)}</h1>
<p class="meta">Data up to {html.escape(as_of)} · {html.escape(used)}</p></header>
<section id="top-findings"><h2>Top findings</h2><ol>{findings}</ol></section>
<nav>{nav}</nav>
{body}
</body></html>
"""
