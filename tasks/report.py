"""Tasks that build and publish a run's insight report, and its keyed Prefect artifacts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from features.fairness import FairnessOptions
from outputs.report.load import run_facts
from outputs.report.build import build_report, publish_report, write_report_files
from outputs.summary import findings_markdown

# Stable keys: each run adds a version of the same artifact.
ARTIFACT_KEYS = {"phase_scores": "engage-phase-scores", "findings": "engage-findings", "report": "engage-report",
                 "risk_model": "engage-risk-model"}


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@task(cache_policy=NO_CACHE)
def build_run_report(root: str, registry_root: str, manifest: dict, fairness: FairnessOptions, work_dir: str) -> dict:
    """Build the report from the run's published tables and its manifest (written or not);
    return where its parts were written (HTML, insights, phase summary, risk metrics) and its
    top findings."""
    report = build_report(root, registry_root, run_facts(manifest), fairness)
    return {**write_report_files(report, Path(work_dir) / "report"), "top_findings": report.top_findings}


@task(cache_policy=NO_CACHE)
def publish_run_report(built: dict, root: str, run_date: date) -> dict:
    """Swap the report's HTML and ``insights`` partition into place; return their paths."""
    return publish_report(root, run_date, built)


@task(cache_policy=NO_CACHE)
def report_artifacts(built: dict, published: dict, run_date: date) -> dict[str, str]:
    """Create the run's keyed artifacts: the phase score summary (table), the findings
    (markdown), a link to the report, and the risk model's metrics (table); return kind -> key."""
    when = run_date.isoformat()
    create_table_artifact(key=ARTIFACT_KEYS["phase_scores"], table=_records(pq.read_table(built["phase_summary"])
                                                                           .to_pandas()),
                          description=f"Engagement score per course x phase, run {when}")
    create_markdown_artifact(key=ARTIFACT_KEYS["findings"],
                             markdown=findings_markdown(pq.read_table(published["insights"]).to_pandas(), when),
                             description=f"Findings of run {when}")
    create_link_artifact(key=ARTIFACT_KEYS["report"], link=Path(published["report"]).resolve().as_uri(),
                         link_text=f"Insight report {when}", description=f"Insight report of run {when}")
    metrics = pq.read_table(built["risk_metrics"]).to_pandas()
    create_table_artifact(key=ARTIFACT_KEYS["risk_model"],
                          table=_records(metrics) if len(metrics) else [{"model": "none promoted", "slice": None}],
                          description=f"Dropout-risk model used by run {when}")
    return dict(ARTIFACT_KEYS)
