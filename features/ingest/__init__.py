"""Stage telemetry files: parse and validate every record into Parquet, then drop duplicates.

Each local file (gs:// objects are first streamed to local disk by the caller) is read in
bounded batches of lines (split by pyarrow, numbered as they are read, the next batch read
while duckdb works on the current one); each batch is validated by one duckdb query against
the field map. Every line lands in the staged Parquet with a ``status``: ``valid``,
``quarantined`` (with a reason code, the field at fault, the raw text and the line number) or
``blank`` (counted, not a record). Any byte sequence is handled: a line that is not UTF-8 is
quarantined as ``invalid_utf8``.

A top-level JSON array is converted item by item (ijson) to NDJSON first; item ``k`` becomes
line ``k``. An array whose syntax breaks off cannot be resumed: the rest of that file is one
``array_syntax_error`` record.

``finalize_events`` then keeps the first record of each ``event_id`` (by file, then line) and
counts later ones as duplicates (same raw text) or quarantines them (``conflicting_duplicate``).
"""

from features.ingest.dedupe import DedupeResult, finalize_events
from features.ingest.options import IngestOptions, StagedFile
from features.ingest.staging import stage_file

__all__ = ["DedupeResult", "IngestOptions", "StagedFile", "finalize_events", "stage_file"]
