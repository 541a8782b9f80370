"""Telemetry task bodies on local files: sources resolved, fetched, staged, deduplicated."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from features.ingest import IngestOptions
from tasks.telemetry import fetch_source, finalize_ingest, resolve_sources, stage_source


def record(event_id, user="u1"):
    return json.dumps({"event_id": event_id, "event_type": "app_open", "user_id": user,
                       "timestamp": "2026-09-01T10:00:00+02:00"})


def test_two_local_files_are_staged_and_deduplicated_across_files(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.ndjson").write_text("\n".join([record("e1"), record("e2"), "{oops"]) + "\n")
    (tmp_path / "in" / "b.ndjson").write_text("\n".join([record("e2"), record("e3")]) + "\n")
    uris = resolve_sources.fn([str(tmp_path / "in" / "*.ndjson")], None)
    assert [u.rsplit("/", 1)[1] for u in uris] == ["a.ndjson", "b.ndjson"]
    fetched = [fetch_source.fn(u, i, str(tmp_path / "work"), None) for i, u in enumerate(uris)]
    assert fetched[0]["local_path"] == uris[0] and len(fetched[0]["sha256"]) == 64  # local: not copied
    staged = [stage_source.fn(f, i, str(tmp_path / "work"), IngestOptions()) for i, f in enumerate(fetched)]
    assert [s["staged"]["records"] for s in staged] == [3, 2]
    result = finalize_ingest.fn(staged, str(tmp_path / "work"), IngestOptions())
    assert (result["events"], result["duplicates"]) == (3, 1)
    assert pq.read_table(result["events_path"])["event_id"].to_pylist() == ["e1", "e2", "e3"]
    assert pq.read_table(result["quarantine_path"])["reason"].to_pylist() == ["invalid_json"]
