"""Tasks that turn telemetry sources into the cleaned event and quarantine tables."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from audio.storage import SourceUnreadable, expand_sources, fetch_to_local, storage_client
from features.ingest import IngestOptions, StagedFile, finalize_events, stage_file


@task(cache_policy=NO_CACHE)
def resolve_sources(patterns: list[str], project: str | None) -> list[str]:
    """List the telemetry files the patterns name (local or gs://)."""
    needs_gcs = any(p.startswith("gs://") for p in patterns)
    return expand_sources(patterns, storage_client(project) if needs_gcs else None)


@task(cache_policy=NO_CACHE, tags=["telemetry-io"])
def fetch_source(uri: str, index: int, work_dir: str, project: str | None) -> dict:
    """Stream one source to local disk (gs:// only); return its local path and checksums, or
    ``{"uri", "unreadable"}`` saying why it could not be read.

    The storage client retries transient errors itself: no task retries on top."""
    client = storage_client(project) if uri.startswith("gs://") else None
    try:
        return fetch_to_local(uri, Path(work_dir) / "downloads" / f"{index:05d}-{Path(uri).name}", client)
    except SourceUnreadable as exc:
        return {"uri": uri, "unreadable": str(exc)}


@task(cache_policy=NO_CACHE)
def stage_source(fetched: dict, index: int, work_dir: str, options: IngestOptions) -> dict:
    """Parse and validate one fetched source's records; return its staged counts and checksums
    (an unreadable source passes through as it came)."""
    if "unreadable" in fetched:
        return fetched
    staged = stage_file(fetched["local_path"], fetched["uri"], index, Path(work_dir) / "staged", options)
    return {"staged": asdict(staged), "checksums": {k: v for k, v in fetched.items() if k != "local_path"}}


@task(cache_policy=NO_CACHE)
def finalize_ingest(staged: list[dict], work_dir: str, options: IngestOptions) -> dict:
    """Drop duplicates across staged files; return the event and quarantine paths and counts,
    the staged files, and the sources that could not be read."""
    readable = [s for s in staged if "unreadable" not in s]
    events_path = str(Path(work_dir) / "events.parquet")
    quarantine_path = str(Path(work_dir) / "quarantine.parquet")
    result = finalize_events([StagedFile(**s["staged"]) for s in readable], events_path, quarantine_path,
                             options, temp_dir=Path(work_dir) / "spill")
    return {"events_path": events_path, "quarantine_path": quarantine_path, "files": readable,
            "unreadable_sources": [s for s in staged if "unreadable" in s],
            "events": result.events, "duplicates": result.duplicates, "conflicting": result.conflicting}
