"""Stage one telemetry file: every line validated into Parquet with its status and reason."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from features.duck import sql_str, utc_connection
from features.ingest.options import IngestOptions, StagedFile
from features.ingest.readers import array_to_ndjson, decode_lines, detect_format, iter_ndjson_lines, open_text_source, read_ahead
from features.ingest.validation import staged_select, validation_sql
from features.statuses import QuarantineReason, RecordStatus
from features.telemetry_schema import QUARANTINE_SCHEMA

log = logging.getLogger(__name__)


def stage_file(
    local_path: str | Path,
    source: str,
    source_index: int,
    out_dir: str | Path,
    options: IngestOptions,
) -> StagedFile:
    """Validate every record of one local telemetry file into ``out_dir/file-NNNNN/``.

    ``source`` is the name recorded in the tables (a ``gs://`` URI or a path). Returns the
    ``StagedFile`` with its counts. Bad records never raise; ``OSError`` does when the file
    cannot be read.
    """
    staged_dir = Path(out_dir) / f"file-{source_index:05d}"
    shutil.rmtree(staged_dir, ignore_errors=True)
    staged_dir.mkdir(parents=True)
    staged = StagedFile(source, source_index, str(local_path), str(staged_dir))
    fmt = detect_format(local_path) if options.format == "auto" else options.format
    staged.format = fmt
    if fmt == "array":
        staged.local_path = str(staged_dir / "items.ndjson")
        broken = array_to_ndjson(local_path, staged.local_path)
        if broken:
            _write_array_error(staged_dir, source, source_index, broken)
    con = utc_connection(options.memory_limit_mb, options.threads, staged_dir)
    sql = staged_select(validation_sql("lines", options.fields, options.naive_timezone),
                         source, source_index)
    with open_text_source(staged.local_path) as stream:
        for k, (first, raw_lines) in enumerate(read_ahead(iter_ndjson_lines(stream, options.batch_bytes))):
            text, utf8_ok = decode_lines(raw_lines)
            batch = pa.table({"line_no": pa.array(range(first, first + len(text)), pa.int64()),
                              "line": text, "utf8_ok": utf8_ok})
            # duckdb scans an Arrow table in parallel by record batch: hand it many small ones.
            con.register("lines", pa.Table.from_batches(batch.to_batches(max_chunksize=16_384)))
            con.execute(f"COPY ({sql}) TO {sql_str(str(staged_dir / f'records-{k:05d}.parquet'))} {STAGED_FORMAT}")
            con.unregister("lines")
    counts = dict(((st, (n, naive)) for st, n, naive in con.execute(
        f"""SELECT status, count(*), count(*) FILTER (ts_naive)
        FROM read_parquet({staged_glob(staged)}, union_by_name=true) GROUP BY status""").fetchall()))
    con.close()
    staged.valid, staged.naive_timestamps = counts.get(RecordStatus.VALID, (0, 0))
    staged.quarantined = counts.get(RecordStatus.QUARANTINED, (0, 0))[0]
    staged.blank_lines = counts.get(RecordStatus.BLANK, (0, 0))[0]
    staged.records = staged.valid + staged.quarantined
    log.info("staged %s: %d records, %d quarantined", source, staged.records, staged.quarantined)
    return staged


STAGED_FORMAT = "(FORMAT parquet, COMPRESSION snappy)"


def staged_glob(staged: StagedFile) -> str:
    """Return the SQL string literal that globs a staged file's Parquet parts."""
    return sql_str(f"{staged.staged_dir}/*.parquet")


def _write_array_error(staged_dir: Path, source: str, source_index: int, broken: dict) -> None:
    schema = pa.schema([("source_index", pa.int32()), ("status", pa.string())] + list(QUARANTINE_SCHEMA))
    row = {"source_file": source, "source_index": source_index, "source_line": broken["item"],
           "status": RecordStatus.QUARANTINED, "reason": QuarantineReason.ARRAY_SYNTAX_ERROR, "field": None,
           "detail": f"{broken['message']}; the rest of the file is this one record",
           "event_id": None, "raw": broken["raw"]}
    pq.write_table(pa.Table.from_pylist([row], schema=schema), staged_dir / "array-error.parquet")
