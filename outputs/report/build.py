"""Build a run date's report from its published tables and recorded models, and publish it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from features.fairness import FairnessOptions
from features.insights import build_sections, insights
from features.insights.engagement import phase_score_summary
from outputs.report.html import render_report
from outputs.report.load import load_run_tables
from outputs.tables import publish_partition, write_parquet

REPORT_TABLE, REPORT_FILE = "report", "insights.html"
TOP_FINDINGS = 3
RISK_METRICS = ("auc", "pr_auc", "brier", "ece", "mcc", "n", "positives")


@dataclass
class Report:
    """A built report: its HTML, the ``insights`` table, the phase score summary and the risk
    model's metrics (one row per slice; empty when no model was used)."""

    html: str
    insights: pd.DataFrame
    phase_summary: pd.DataFrame
    risk_metrics: pd.DataFrame

    @property
    def top_findings(self) -> list[str]:
        """The statements of the run's top findings."""
        return self.insights["statement"].head(TOP_FINDINGS).tolist()


def _risk_metrics(model: dict | None) -> pd.DataFrame:
    if not model:
        return pd.DataFrame(columns=["model", "slice", *RISK_METRICS])
    metrics = model["metrics"]
    rows = [{"model": f"gradient boosting {model['version']}", "slice": name,
             **{k: metrics[name].get(k) for k in RISK_METRICS}}
            for name in ("calibration_slice", "evaluation") if name in metrics]
    if "baseline_logistic" in metrics:
        rows.append({"model": "logistic baseline", "slice": "evaluation",
                     **{k: metrics["baseline_logistic"].get(k) for k in RISK_METRICS}})
    return pd.DataFrame(rows)


def build_report(root: str | Path, registry_root: str | Path, facts: dict,
                 fairness: FairnessOptions = FairnessOptions()) -> Report:
    """Build the report of the run described by ``facts`` (``outputs.report.load.run_facts``)
    from its published tables; the same tables and facts give the same bytes.

    Raises ``outputs.tables.NoPartition`` when a table every run publishes is missing."""
    tables = load_run_tables(root, registry_root, facts)
    sections = build_sections(tables, fairness)
    table = insights(sections)
    html = render_report(sections, table, tables.run_date, tables.as_of, tables.models, TOP_FINDINGS)
    return Report(html, table, phase_score_summary(tables.phase_scores), _risk_metrics(tables.risk_model))


def write_report_files(report: Report, folder: str | Path) -> dict[str, str]:
    """Write the report's HTML and its tables (insights, phase summary, risk metrics) into
    ``folder``; return part -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT_FILE).write_text(report.html, encoding="utf-8")
    return {"html": str(folder / REPORT_FILE),
            **{name: write_parquet(pa.Table.from_pandas(getattr(report, name), preserve_index=False),
                                   folder / f"{name}.parquet") for name in ("insights", "phase_summary", "risk_metrics")}}


def publish_report(root: str | Path, run_date: date, files: dict[str, str]) -> dict[str, str]:
    """Swap the report's HTML and its ``insights`` partition (from ``write_report_files``) into
    place; return their paths (``insights``: the partition folder, ``report``: the HTML file)."""
    folder = publish_partition(root, REPORT_TABLE, run_date, [files["html"]], names=[REPORT_FILE])
    return {"insights": str(publish_partition(root, "insights", run_date, [files["insights"]])),
            "report": str(folder / REPORT_FILE)}
