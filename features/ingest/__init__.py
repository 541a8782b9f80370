"""Ingest telemetry files: every record validated, duplicates dropped, nothing lost.

``stage_file`` turns one local file (NDJSON or a JSON array, plain or ``.gz``) into staged
Parquet: every line with its status (valid / quarantined with reason, field, raw text and line
number / blank) in one duckdb query, or through the Python reader for files duckdb's readers
refuse (``features.ingest.staging``). Files of a run are staged in parallel, each with a share of
the memory limit. ``finalize_events`` keeps the first record of each ``event_id`` in input order
(sources sorted by URI, then line) and counts later ones as duplicates (same text) or
quarantines them (``conflicting_duplicate``). Any byte sequence ends as counted records:
``input = events + duplicates + quarantined``.
"""

from features.ingest.dedupe import DedupeResult, finalize_events
from features.ingest.options import IngestOptions, StagedFile
from features.ingest.staging import stage_file

__all__ = ["DedupeResult", "IngestOptions", "StagedFile", "finalize_events", "stage_file"]
