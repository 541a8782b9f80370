"""Stage one telemetry file: every record validated into Parquet with its status and reason.

First duckdb reads the file itself, in one query with the validation (``read_csv`` for NDJSON
lines, ``read_json`` for an array's items). A file its readers refuse (bytes that are not UTF-8,
a stray carriage return, a line over 2 MB, a broken array, a gzip stream that broke off, a UTF-16
file) is read again by the Python reader, which takes any byte sequence. The same validation
query judges the lines either way; only the reader differs.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa

from features.duck import sql_str, utc_connection
from features.ingest.extra import common_extra_keys_sql, usable_common_keys
from features.ingest.options import IngestOptions, StagedFile
from features.ingest.readers import LINES_SCHEMA, array_batches, ndjson_batches, read_ahead
from features.ingest.sources import PlainText, plain_text
from features.ingest.validation import staged_select, validation_sql
from features.statuses import RecordStatus

log = logging.getLogger(__name__)

STAGED_FORMAT = "(FORMAT parquet, COMPRESSION snappy)"


class _DuckdbRefuses(Exception):
    """The file is known to need the Python reader before duckdb tries it."""
_NO_PRESET = "true AS utf8_ok, NULL::VARCHAR AS preset_reason, NULL::VARCHAR AS preset_detail"


def duckdb_lines_sql(plain: PlainText, numbered: bool = False) -> str:
    """Return the relation ``(line_no, line, utf8_ok, preset_reason, preset_detail)`` of a
    plain file read by duckdb's own readers, one row per line (an array: per item) in file
    order. ``line_no`` is null unless ``numbered`` (``WITH ORDINALITY``, which runs on one
    thread): a staged file written in order gets its line numbers from its row numbers."""
    path = sql_str(plain.path)
    if plain.format == "array":
        source = f"read_json({path}, format='array', records=false, columns={{'json': 'JSON'}})"
        line = "coalesce(json::VARCHAR, 'null')"  # a null item comes back as SQL NULL: it is a record, not a blank
    else:
        # One VARCHAR column: no quoting, a delimiter the single column never splits on.
        source = (f"read_csv({path}, columns={{'line': 'VARCHAR'}}, delim='\\x1f', quote='', escape='', "
                  f"header=false, auto_detect=false)")
        line = "line"
    if numbered:
        return f"(SELECT ordinality AS line_no, {line} AS line, {_NO_PRESET} FROM {source} WITH ORDINALITY)"
    return f"(SELECT NULL::BIGINT AS line_no, {line} AS line, {_NO_PRESET} FROM {source})"


def python_batches(plain: PlainText, batch_bytes: int):
    """Yield the Python reader's line batches of a plain file."""
    return array_batches(plain) if plain.format == "array" else ndjson_batches(plain, batch_bytes)


def stage_file(local_path: str | Path, source: str, source_index: int, out_dir: str | Path,
               options: IngestOptions) -> StagedFile:
    """Validate every record of one local telemetry file into ``out_dir/file-NNNNN/``.

    ``source`` is the name recorded in the tables (a ``gs://`` URI or a path). Returns the
    ``StagedFile`` with its counts. No content raises: bad bytes, broken arrays and broken
    gzip streams become quarantined records; ``OSError`` does when the file cannot be read.
    """
    staged_dir = Path(out_dir) / f"file-{source_index:05d}"
    shutil.rmtree(staged_dir, ignore_errors=True)
    staged_dir.mkdir(parents=True)
    plain = plain_text(local_path, staged_dir, options.format)
    staged = StagedFile(source, source_index, str(local_path), str(staged_dir), plain.format, plain_path=plain.path)
    con = utc_connection(options.memory_limit_mb, options.threads, staged_dir / "spill")
    duckdb_reads = not (plain.problem or plain.wide_encoding
                        or (plain.format == "array" and not _closed_array(plain.path)))
    common = _common_extra_keys(con, plain, options) if duckdb_reads else ()
    validate = lambda lines: staged_select(  # noqa: E731
        validation_sql(lines, options.fields, options.naive_timezone, common), source, source_index)
    try:
        if not duckdb_reads:
            raise _DuckdbRefuses("a gzip break, a wide encoding or an unclosed array")
        con.execute(f"COPY ({validate(duckdb_lines_sql(plain))}) TO {part(staged_dir, 0)} {STAGED_FORMAT}")
    except (duckdb.Error, _DuckdbRefuses) as exc:
        log.info("%s: read line by line in Python (%s)", source, str(exc).splitlines()[0][:200])
        staged.reader = "python"
        for old in staged_dir.glob("part-*.parquet"):
            old.unlink()
        k = -1
        for k, batch in enumerate(read_ahead(python_batches(plain, options.batch_bytes))):
            _copy_batch(con, batch, validate, staged_dir, k)
        if k < 0:  # an empty file still gets its (empty) part
            _copy_batch(con, LINES_SCHEMA.empty_table(), validate, staged_dir, 0)
    counts = {status: (n, naive) for status, n, naive in con.execute(
        f"SELECT status, count(*), count(*) FILTER (ts_naive) FROM read_parquet({staged_glob(staged)}) "
        f"GROUP BY status").fetchall()}
    con.close()
    staged.valid, staged.naive_timestamps = counts.get(RecordStatus.VALID, (0, 0))
    staged.quarantined = counts.get(RecordStatus.QUARANTINED, (0, 0))[0]
    staged.blank_lines = counts.get(RecordStatus.BLANK, (0, 0))[0]
    staged.records = staged.valid + staged.quarantined
    log.info("staged %s: %d records, %d quarantined (%s reader)", source, staged.records, staged.quarantined,
             staged.reader)
    return staged


def _common_extra_keys(con, plain: PlainText, options: IngestOptions) -> tuple[str, ...]:
    """Return the extra keys most common among the file's first records (see ``extra``); none
    when duckdb's reader refuses them (the file is then read by the Python reader)."""
    try:
        found = con.execute(common_extra_keys_sql(duckdb_lines_sql(plain), options.fields)).fetchone()
    except duckdb.Error:
        return ()
    return usable_common_keys(found[0] if found else None)


def _copy_batch(con, batch, validate, staged_dir: Path, k: int) -> None:
    # duckdb scans an Arrow table in parallel by record batch: hand it many small ones.
    con.register("lines", pa.Table.from_batches(batch.to_batches(max_chunksize=16_384), schema=batch.schema))
    con.execute(f"COPY ({validate('lines')}) TO {part(staged_dir, k)} {STAGED_FORMAT}")
    con.unregister("lines")


def _closed_array(path: str) -> bool:
    """Whether the text ends with the array's closing bracket (duckdb's reader accepts an array
    cut off after an item; the Python reader reports the missing rest as a record)."""
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, 2) - 4096))
        return f.read().rstrip(b" \t\r\n").endswith(b"]")


def part(staged_dir: Path, k: int) -> str:
    """Return the SQL literal of a staged file's k-th Parquet part."""
    return sql_str(str(staged_dir / f"part-{k:05d}.parquet"))


def staged_glob(staged: StagedFile) -> str:
    """Return the SQL list literal of a staged file's Parquet parts, in order."""
    parts = sorted(Path(staged.staged_dir).glob("part-*.parquet"))
    return "[" + ", ".join(sql_str(str(p)) for p in parts) + "]"
