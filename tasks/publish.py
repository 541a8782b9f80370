"""Tasks that publish a run: table partitions, the manifest, Prefect artifacts, and the
threshold check that fails a run loudly."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from outputs.manifest import ingest_counts, summary_markdown, threshold_breaches, write_manifest
from outputs.tables import publish_partition


class RunThresholdError(RuntimeError):
    """Too many records were quarantined or left unmapped for the run to count as a success."""


@task(cache_policy=NO_CACHE)
def publish_tables(paths: dict[str, str], root: str, run_date: date) -> dict[str, str]:
    """Swap each table's file into its run-date partition; return table -> partition folder."""
    return {name: str(publish_partition(root, name, run_date, [path])) for name, path in paths.items()}


@task(cache_policy=NO_CACHE)
def publish_manifest(manifest: dict, root: str, run_date: date) -> str:
    """Write the run manifest JSON and a keyed Markdown artifact; return the manifest path."""
    path = write_manifest(root, run_date, manifest)
    create_markdown_artifact(key="engage-run-summary", markdown=summary_markdown(manifest),
                             description=f"engage run {run_date}")
    return str(path)


@task(cache_policy=NO_CACHE)
def check_thresholds(counts: dict, max_quarantine_share: float, max_unmapped_share: float) -> None:
    """Raise RunThresholdError when the quarantined or unmapped share passes its limit."""
    breaches = threshold_breaches(counts, max_quarantine_share, max_unmapped_share)
    if breaches:
        raise RunThresholdError("run failed its data-quality limits: " + "; ".join(breaches))


@task(cache_policy=NO_CACHE)
def fail_empty_ingest(ingest: dict, root: str, config_hash: str, max_quarantine_share: float) -> None:
    """Keep the quarantine of a run in which no event survived ingest under
    ``<root>/_failed/<config hash>/`` and raise RunThresholdError saying where it is."""
    folder = Path(root) / "_failed" / config_hash[:12]
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"ingest": ingest_counts(ingest)}
    shutil.copy(ingest["quarantine_path"], folder / "quarantine.parquet")
    reasons = threshold_breaches(counts, max_quarantine_share, 1.0) or ["every record was quarantined"]
    raise RunThresholdError(f"no event survived ingest: {'; '.join(reasons)} "
                            f"(quarantine kept in {folder / 'quarantine.parquet'})")
