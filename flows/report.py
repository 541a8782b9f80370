"""``engage report``: rebuild a run date's insight report from what that run published."""

from __future__ import annotations

import tempfile
from datetime import date

from flows.config import EngageConfig, load_config
from outputs.manifest import read_manifest
from outputs.report.build import build_report, publish_report, write_report_files
from outputs.report.load import run_facts
from outputs.tables import latest_partition


def rebuild_report(config_file: str, run_date: date | None = None) -> dict:
    """Rebuild the report of ``run_date`` (default: the latest run) from its published tables,
    its manifest and the models it recorded, with the fairness settings that run used; replace
    the report and ``insights`` partitions (the same bytes when nothing changed) and return
    their paths and the top findings.

    Raises ``NoPartition`` when no run was published, ``ManifestMissing`` when that run date
    has no manifest."""
    config = load_config(config_file)
    root = config.output.root
    if run_date is None:  # the latest run's manifest partition (NoPartition when none)
        run_date = date.fromisoformat(latest_partition(root, "manifest").name.split("=", 1)[1])
    manifest = read_manifest(root, run_date)
    fairness = EngageConfig.model_validate(manifest["config"]).fairness
    report = build_report(root, config.registry_root, run_facts(manifest), fairness)
    with tempfile.TemporaryDirectory(dir=root, prefix=".report-") as work:
        return {**publish_report(root, run_date, write_report_files(report, work)), "top_findings": report.top_findings}
