"""The HTML report: self-contained, the same bytes from the same tables, every headline
carrying its insights number, every plot an SVG image."""

from __future__ import annotations

import base64
import re

from features.insights import build_sections, insights
from outputs.report.html import render_report
from tests.features.insights.tiny_run import run_tables


def render(**kwargs) -> str:
    tables = run_tables(**kwargs)
    sections = build_sections(tables)
    return render_report(sections, insights(sections), tables.run_date, tables.as_of, tables.models)


def test_the_report_fetches_nothing_and_is_the_same_bytes_twice():
    html = render()
    assert html == render()
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith(("data:", "#")) for s in sources)
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")


def test_each_plot_is_an_svg_image_and_each_headline_carries_its_number():
    html = render()
    images = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(images) >= 7 and all(base64.b64decode(i).lstrip().startswith(b"<?xml") for i in images)
    table = insights(build_sections(run_tables()))
    numbers = dict(re.findall(r'class="headline" data-insight-id="([^"]+)" data-number="([^"]+)"', html))
    heads = table[table["headline"]]
    assert {k: float(v) for k, v in numbers.items()} == dict(zip(heads["insight_id"], heads["number"]))


def test_user_text_is_escaped():
    tables = run_tables()
    tables.groups.loc[0, "name"] = "<script>alert(1)</script>"
    sections = build_sections(tables)
    html = render_report(sections, insights(sections), tables.run_date, tables.as_of, tables.models)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
