"""Drop duplicates across a run's staged files and write the event and quarantine tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from features.duck import sql_str, utc_connection
from features.ingest.options import MAX_RAW_CHARS, IngestOptions, StagedFile
from features.ingest.readers import decode_line, iter_ndjson_lines, open_text_source
from features.ingest.staging import staged_glob
from features.statuses import QuarantineReason, RecordStatus
from features.telemetry_schema import EVENT_SCHEMA, QUARANTINE_SCHEMA


@dataclass
class DedupeResult:
    """Counts of the dedupe step; ``valid = events + duplicates + conflicting``."""

    events: int
    duplicates: int
    conflicting: int


def finalize_events(
    staged: list[StagedFile],
    events_path: str | Path,
    quarantine_path: str | Path,
    options: IngestOptions,
    temp_dir: str | Path | None = None,
) -> DedupeResult:
    """Write the cleaned event table and the quarantine table from staged files.

    Keeps the first record of each ``event_id`` in input order (file, then line). A later
    record with byte-identical text is a duplicate (counted, dropped); with other text it is
    quarantined as ``conflicting_duplicate`` with its raw line. Events are in input order.
    Runs in duckdb under ``options.memory_limit_mb``, spilling to ``temp_dir``.
    """
    con = utc_connection(options.memory_limit_mb, options.threads, temp_dir)
    globs = "[" + ", ".join(staged_glob(s) for s in staged) + "]"
    records = f"read_parquet({globs}, union_by_name=true)"
    cols = ", ".join(EVENT_SCHEMA.names)
    empty_events = f"SELECT {', '.join(f'NULL::{_duck_type(f.type)} AS {f.name}' for f in EVENT_SCHEMA)} WHERE false"
    if not any(s.valid for s in staged):
        con.execute(f"COPY ({empty_events}) TO {sql_str(str(events_path))} (FORMAT parquet)")
        result = DedupeResult(0, 0, 0)
        losers = []
    else:
        con.execute(f"CREATE TEMP VIEW staged AS SELECT * FROM {records} WHERE status = '{RecordStatus.VALID}'")
        con.execute(
            """CREATE TEMP TABLE losers AS
            WITH dup AS (SELECT event_id FROM staged GROUP BY event_id HAVING count(*) > 1),
            ranked AS (
              SELECT event_id, source_index, source_line, payload_hash,
                     row_number() OVER w AS rn, first_value(payload_hash) OVER w AS first_hash
              FROM staged SEMI JOIN dup USING (event_id)
              WINDOW w AS (PARTITION BY event_id ORDER BY source_index, source_line))
            SELECT event_id, source_index, source_line, payload_hash = first_hash AS same
            FROM ranked WHERE rn > 1"""
        )
        con.execute(
            f"""COPY (SELECT {cols} FROM staged
                WHERE (source_index, source_line) NOT IN (SELECT (source_index, source_line) FROM losers)
                ORDER BY source_index, source_line)
            TO {sql_str(str(events_path))} (FORMAT parquet, COMPRESSION zstd)"""
        )
        n_valid = sum(s.valid for s in staged)
        dups, conflicts = con.execute(
            "SELECT count(*) FILTER (same), count(*) FILTER (NOT same) FROM losers").fetchone()
        result = DedupeResult(n_valid - dups - conflicts, dups, conflicts)
        losers = con.execute(
            "SELECT source_index, source_line, event_id FROM losers WHERE NOT same ORDER BY ALL"
        ).fetchall()
    conflict_rows = _conflict_rows(staged, losers, options.batch_bytes)
    con.register("conflicts", conflict_rows)
    qcols = ", ".join(QUARANTINE_SCHEMA.names)
    bad = f"SELECT {qcols} FROM {records} WHERE status = '{RecordStatus.QUARANTINED}' UNION ALL " if any(
        s.quarantined for s in staged) else ""
    con.execute(
        f"""COPY (SELECT * FROM ({bad} SELECT {qcols} FROM conflicts) ORDER BY source_file, source_line)
        TO {sql_str(str(quarantine_path))} (FORMAT parquet, COMPRESSION zstd)"""
    )
    con.close()
    return result


def _duck_type(t: pa.DataType) -> str:
    return {
        pa.string(): "VARCHAR", pa.int16(): "SMALLINT", pa.int32(): "INTEGER", pa.int64(): "BIGINT",
        pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN",
    }.get(t, "TIMESTAMPTZ")


def _conflict_rows(staged: list[StagedFile], losers: list[tuple], batch_bytes: int) -> pa.Table:
    """Return quarantine rows for conflicting duplicates, raw lines read back from the files."""
    by_file: dict[int, dict[int, str]] = {}
    for index, line, event_id in losers:
        by_file.setdefault(index, {})[line] = event_id
    rows = {n: [] for n in QUARANTINE_SCHEMA.names}
    for s in staged:
        wanted = by_file.get(s.source_index)
        if not wanted:
            continue
        with open_text_source(s.local_path) as stream:
            for first, lines in iter_ndjson_lines(stream, batch_bytes):
                for line_no in [n for n in wanted if first <= n < first + len(lines)]:
                    rows["source_file"].append(s.source)
                    rows["source_line"].append(line_no)
                    rows["reason"].append(QuarantineReason.CONFLICTING_DUPLICATE.value)
                    rows["field"].append("event_id")
                    rows["detail"].append("same event_id as an earlier record, different payload")
                    rows["event_id"].append(wanted[line_no])
                    rows["raw"].append(decode_line(lines[line_no - first].as_py())[:MAX_RAW_CHARS])
    return pa.table(rows, schema=QUARANTINE_SCHEMA)
