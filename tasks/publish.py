"""Tasks that publish a run: table partitions, counts, the manifest and its Prefect artifact,
the quality verdict, and the run's scratch folder."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from prefect import runtime, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from outputs.accounting import ingest_counts, stage_counts
from outputs.manifest import build_manifest, retract_manifest, write_manifest
from outputs.quality import QualityGates, gate_breaches
from outputs.summary import summary_markdown
from outputs.tables import publish_partition


@task(cache_policy=NO_CACHE)
def open_workspace(work_root: str, key: str) -> str:
    """Return an empty scratch folder ``<work_root>/<key>`` (a leftover one is cleared)."""
    work = Path(work_root) / key
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return str(work)


@task(cache_policy=NO_CACHE)
def close_workspace(work: str) -> None:
    """Delete the run's scratch folder."""
    shutil.rmtree(work, ignore_errors=True)


@task(cache_policy=NO_CACHE)
def publish_export(path: str, name: str, root: str, run_date: date) -> str:
    """Swap one export file (e.g. ``nudges.jsonl``) into ``<root>/<name>/run_date=<date>/``;
    return its final path."""
    folder = publish_partition(root, name, run_date, [path], names=[Path(path).name])
    return str(folder / Path(path).name)


@task(cache_policy=NO_CACHE)
def publish_tables(paths: dict[str, str], root: str, run_date: date) -> dict[str, str]:
    """Swap each table's file into its run-date partition, the run date's manifest retracted
    first (it is written again last); return table -> partition folder."""
    retract_manifest(root, run_date)
    return {name: str(publish_partition(root, name, run_date, [path])) for name, path in paths.items()}


@task(cache_policy=NO_CACHE)
def count_stages(ingest: dict, selected: dict, tables: dict[str, str]) -> dict:
    """Return the per-stage counts of the run (see ``outputs.accounting.stage_counts``)."""
    return stage_counts(ingest, selected, tables)


@task(cache_policy=NO_CACHE)
def stage_timings() -> dict[str, float]:
    """Return seconds per finished stage: the run times Prefect recorded for the stage
    subflows of this run (the root flow run), by their run names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[runtime.flow_run.root_flow_run_id])))
    return {run.name: round(run.total_run_time.total_seconds(), 3)
            for run in sorted(runs, key=lambda r: r.start_time or r.expected_start_time)
            if run.state and run.state.is_completed()}


@task(cache_policy=NO_CACHE)
def assemble_manifest(run_date: date, **parts) -> dict:
    """Return the run manifest (``outputs.manifest.build_manifest`` with ``parts``), not yet
    written."""
    return build_manifest(run_date=run_date, **parts)


@task(cache_policy=NO_CACHE)
def publish_manifest(root: str, run_date: date, manifest: dict, report: dict | None = None) -> dict:
    """Write the manifest (with the report's paths, top findings and artifact keys when given)
    and its keyed Markdown artifact; return it with ``manifest_path``."""
    if report:
        manifest = {**manifest, "tables": {**manifest["tables"], "insights": report["insights"]},
                    "report": {k: v for k, v in report.items() if k != "insights"}}
    path = write_manifest(root, run_date, manifest)
    create_markdown_artifact(key="engage-run-summary", markdown=summary_markdown(manifest),
                             description=f"engage run {run_date}")
    return {**manifest, "manifest_path": str(path)}


@task(cache_policy=NO_CACHE)
def quality_verdict(counts: dict, gates: QualityGates) -> str | None:
    """Return why the run fails its quality gates, or None when it passes."""
    breaches = gate_breaches(counts, gates)
    return "run failed its data-quality limits: " + "; ".join(breaches) if breaches else None


@task(cache_policy=NO_CACHE)
def keep_failed_quarantine(ingest: dict, root: str, config_hash: str, gates: QualityGates) -> str:
    """Keep the quarantine of a run in which no event survived ingest under
    ``<root>/_failed/<config hash>/``; return the failure message saying where it is."""
    folder = Path(root) / "_failed" / config_hash[:12]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ingest["quarantine_path"], folder / "quarantine.parquet")
    breaches = gate_breaches({"ingest": ingest_counts(ingest)}, gates) or ["every record was quarantined"]
    return (f"no event survived ingest: {'; '.join(breaches)} "
            f"(quarantine kept in {folder / 'quarantine.parquet'})")
