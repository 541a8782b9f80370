"""Tasks that turn telemetry sources into the cleaned event and quarantine tables."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from audio.storage import expand_sources, fetch_to_local, storage_client
from features.ingest import IngestOptions, StagedFile, finalize_events, stage_file
from features.telemetry_schema import FieldMap
from flows.config import TelemetryConfig


def ingest_options(cfg: TelemetryConfig) -> IngestOptions:
    """Return the ingest library's options for a telemetry config."""
    return IngestOptions(field_map=FieldMap.with_overrides(cfg.field_map),
                         naive_timezone=cfg.naive_timezone, format=cfg.format,
                         memory_limit_mb=cfg.memory_limit_mb)


@task(cache_policy=NO_CACHE)
def resolve_sources(patterns: list[str], project: str | None) -> list[str]:
    """List the telemetry files the patterns name (local or gs://)."""
    needs_gcs = any(p.startswith("gs://") for p in patterns)
    return expand_sources(patterns, storage_client(project) if needs_gcs else None)


# The storage client retries transient errors itself; a task retry would stack on it.
@task(cache_policy=NO_CACHE, tags=["telemetry-io"])
def stage_source(uri: str, index: int, work_dir: str, cfg: TelemetryConfig,
                 project: str | None) -> dict:
    """Fetch one source to local disk (gs:// only) and stage its records; return counts."""
    client = storage_client(project) if uri.startswith("gs://") else None
    local = fetch_to_local(uri, Path(work_dir) / "downloads" / f"{index:05d}-{Path(uri).name}", client)
    staged = stage_file(local["local_path"], uri, index, Path(work_dir) / "staged", ingest_options(cfg))
    return {"staged": asdict(staged), "checksums": {k: v for k, v in local.items() if k != "local_path"}}


@task(cache_policy=NO_CACHE)
def finalize_ingest(staged: list[dict], work_dir: str, cfg: TelemetryConfig) -> dict:
    """Drop duplicates across staged files; return the event and quarantine paths and counts."""
    files = [StagedFile(**s["staged"]) for s in staged]
    events_path = str(Path(work_dir) / "events.parquet")
    quarantine_path = str(Path(work_dir) / "quarantine.parquet")
    result = finalize_events(files, events_path, quarantine_path, ingest_options(cfg),
                             temp_dir=Path(work_dir) / "spill")
    return {"events_path": events_path, "quarantine_path": quarantine_path,
            "events": result.events, "duplicates": result.duplicates,
            "conflicting": result.conflicting}
