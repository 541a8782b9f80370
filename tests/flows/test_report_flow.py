"""The demo's insight report end to end: opened in headless Chromium (no console error, no
failed request, every image loaded, a non-blank plot in every section, each headline equal to
its row in ``insights``), rebuilt byte for byte by ``engage report``, and its artifacts read
back through the local Prefect server's API."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from flows.cli import main
from outputs.tables import read_partition
from tests.browser import chromium_path, open_report

pytestmark = pytest.mark.slow
DEMO_LEARNERS = 250  # the demo's code path on half its learners (enough for a promoted risk model), to keep the suite short


@pytest.fixture(scope="module")
def demo(tmp_path_factory, prefect_harness):
    from flows.demo import run_demo

    result = run_demo(tmp_path_factory.mktemp("demo"), learners=DEMO_LEARNERS)
    manifest = result["manifest"]
    return {**result, "report": Path(manifest["report"]["report"]), "run_date": date.fromisoformat(manifest["run_date"]),
            "root": Path(manifest["manifest_path"]).parents[2]}


@pytest.fixture(scope="module")
def browser_view(demo, tmp_path_factory):
    if not chromium_path():
        if os.environ.get("CI") == "true":
            pytest.fail("no Chromium: `make test` installs Debian's chromium (apt-get install chromium)")
        pytest.skip("no Chromium on this machine (apt-get install chromium; `make test` installs it)")
    return open_report(demo["report"], screenshot=tmp_path_factory.mktemp("shot") / "report.png")


def test_the_report_opens_cleanly_in_chromium(browser_view):
    assert browser_view["console_errors"] == [] and browser_view["failed_requests"] == []
    assert browser_view["images"]["total"] >= 7 and browser_view["images"]["not_loaded"] == 0
    assert not browser_view["page_blank"]


def test_every_section_has_a_plot_and_opens_with_its_insights_headline(demo, browser_view):
    insights = read_partition(demo["root"], "insights", demo["run_date"]).to_pandas()
    heads = insights[insights["headline"]].set_index("section")
    sections = browser_view["sections"]
    assert set(sections) == set(heads.index) == {"engagement", "voice", "groups", "risk", "nudges", "fairness",
                                                 "data_quality"}
    for key, seen in sections.items():
        assert seen["plots"] >= 1 and seen["blank_plots"] < seen["plots"], key
        row = heads.loc[key]
        assert (seen["insight_id"], seen["number"], seen["text"]) == (row["insight_id"], row["number"], row["statement"])
    assert "no learner attributes" not in sections["fairness"]["text"]  # the demo gives attributes
    assert sections["risk"]["plots"] == 3  # distribution, calibration of the promoted model, statuses


def test_the_demo_prints_where_the_report_is_and_its_top_findings(demo):
    report = demo["manifest"]["report"]
    insights = read_partition(demo["root"], "insights", demo["run_date"]).to_pandas()
    assert report["top_findings"] == insights.sort_values("rank")["statement"].head(3).tolist()
    assert demo["manifest"]["counts"]["attributes"]["kept"] == DEMO_LEARNERS


def test_engage_report_rebuilds_the_same_file_without_a_run(demo, capsys):
    before = demo["report"].read_bytes()
    config = str(demo["config"])
    assert main(["report", "--config", config, "--run-date", demo["run_date"].isoformat()]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"insight report: {demo['report']}" and out[1] == "top findings:"
    assert demo["report"].read_bytes() == before
    assert main(["report", "--config", config, "--run-date", "2001-01-01"]) == 2
    assert "no readable manifest" in capsys.readouterr().err


def test_artifacts_are_read_back_through_the_prefect_api(demo):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from tasks.report import ARTIFACT_KEYS

    with get_client(sync_client=True) as client:
        latest = {key: client.read_latest_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
                  for key in ARTIFACT_KEYS.values()}
    assert all(len(found) == 1 for found in latest.values()), latest
    phase_scores = json.loads(latest["engage-phase-scores"][0].data)
    scores = read_partition(demo["root"], "phase_scores", demo["run_date"]).to_pandas()
    assert len(phase_scores) == scores[["course_id", "phase"]].drop_duplicates().shape[0]
    assert sum(r["learners"] for r in phase_scores) == len(scores)
    assert demo["manifest"]["report"]["top_findings"][0] in latest["engage-findings"][0].data
    assert latest["engage-report"][0].data.endswith(f"({demo['report'].resolve().as_uri()})")
    risk = json.loads(latest["engage-risk-model"][0].data)
    model = demo["manifest"]["models"]["risk_model"]
    assert risk and (risk[0]["model"] == "none promoted" if model["status"] != "used"
                     else model["version"] in risk[0]["model"])


def test_learners_whose_attributes_opt_out_get_no_nudges(demo):
    attributes = read_partition(demo["root"], "learner_attributes", demo["run_date"]).to_pandas()
    opted_out = set(attributes.loc[attributes["nudges_opt_out"] == "yes", "user_id"])
    learners = set(read_partition(demo["root"], "learners", demo["run_date"])["user_id"].to_pylist())
    assert opted_out & learners
    for table in ("nudges", "nudge_assignments"):
        assert not opted_out & set(read_partition(demo["root"], table, demo["run_date"])["user_id"].to_pylist())
    assert demo["manifest"]["counts"]["nudges"]["nudges"] > 0


def _mentions(root: Path, user_id: str) -> list[str]:
    """Every file under ``root`` that names ``user_id`` (Parquet: any text value)."""
    import re

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    token = f"(^|[^A-Za-z0-9_.-]){re.escape(user_id)}($|[^A-Za-z0-9_.-])"
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            if any(pc.any(pc.match_substring_regex(c, token)).as_py() for c in table.columns
                   if pa.types.is_string(c.type)):
                found.append(str(path))
        elif re.search(token.encode(), path.read_bytes()):
            found.append(str(path))
    return found


def test_purge_erases_a_learner_from_every_output_and_the_reports(demo, capsys):
    """Runs last: it changes the demo's outputs."""
    from prefect.client.orchestration import get_client

    learners = read_partition(demo["root"], "learners", demo["run_date"]).to_pandas()
    user = learners.sort_values("risk_probability", ascending=False)["user_id"].iloc[0]  # in the report's table
    before = _mentions(demo["root"], user)
    assert any("/report/" in p for p in before) and any("/_cache/" in p for p in before) \
        and any("/events/" in p for p in before), before
    assert main(["purge", "--config", str(demo["config"]), "--learner", user]) == 0
    assert "reports rebuilt 1" in capsys.readouterr().out
    assert _mentions(demo["root"], user) == []
    insights = read_partition(demo["root"], "insights", demo["run_date"]).to_pandas()
    assert insights.loc[insights["section"] == "risk", "statement"].iloc[0].startswith(
        f"{(learners['risk_band'] == 'high').sum() - 1} learners")  # the rebuilt report counts without them
    manifest = json.loads((demo["root"] / "manifest" / f"run_date={demo['run_date']}" / "manifest.json").read_text())
    assert manifest["purges"][0]["rows_removed"]["learners"] == 1
    with get_client(sync_client=True) as client:
        texts = [str(a.data) for a in client.read_artifacts()] + [log.message for log in client.read_logs()]
    assert texts and not [t for t in texts if user in t]
