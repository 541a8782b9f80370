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

from __future__ import annotations

import gzip
import json
import logging
import queue
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

import ijson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.duck import sql_str, utc_connection
from features.telemetry_schema import (
    EVENT_SCHEMA,
    FIELD_KINDS,
    QUARANTINE_SCHEMA,
    REQUIRED_FIELDS,
    VALUE_RANGES,
    FieldMap,
)

log = logging.getLogger(__name__)

# Raw text kept in quarantine is cut to this many characters (the record is still counted).
MAX_RAW_CHARS = 65_536


@dataclass(frozen=True)
class IngestOptions:
    """How records are read: field map, time zone for offset-less times, memory bounds."""

    field_map: FieldMap = field(default_factory=FieldMap)
    naive_timezone: str = "UTC"
    format: str = "auto"  # auto | ndjson | array
    batch_bytes: int = 32 << 20
    memory_limit_mb: int = 2048
    threads: int | None = None


@dataclass
class StagedFile:
    """What staging one source produced; ``records = valid + quarantined``."""

    source: str
    source_index: int
    local_path: str
    staged_dir: str
    format: str = "ndjson"
    records: int = 0
    valid: int = 0
    quarantined: int = 0
    blank_lines: int = 0
    naive_timestamps: int = 0


def _json_type_word(column: str) -> str:
    return (
        f"CASE {column} WHEN 'VARCHAR' THEN 'string' WHEN 'DOUBLE' THEN 'number' "
        f"WHEN 'BIGINT' THEN 'integer' WHEN 'UBIGINT' THEN 'integer' ELSE lower({column}) END"
    )


_OK_TYPES = {
    "id": "('VARCHAR','BIGINT','UBIGINT')",
    "time": "('VARCHAR','BIGINT','UBIGINT','DOUBLE')",
    "number": "('BIGINT','UBIGINT','DOUBLE')",
    "integer": "('BIGINT','UBIGINT')",
    "object": "('OBJECT')",
}
_OFFSET_RE = r"\d\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|[+-]\d\d(:?\d\d)?)\s*$"


def _struct_spec(field_map: FieldMap) -> tuple[str, dict[str, str], dict[str, str]]:
    """Return the ``json_transform`` structure (every leaf VARCHAR), the SQL reading each
    field from the transformed struct ``s``, and, per object field, an SQL test that is true
    when the value is there but is not a usable object."""
    spec: dict = {}
    access = {name: "s" + "".join(f"[{sql_str(k)}]" for k in field_map.keys(name)) for name in FIELD_KINDS}
    # Leaves first (FieldMap guarantees none lies inside another leaf), then object fields,
    # which stay structs when leaves lie inside them.
    for name in sorted(FIELD_KINDS, key=lambda n: FIELD_KINDS[n] == "object"):
        *parents, last = field_map.keys(name)
        node = spec
        for key in parents:
            node = node.setdefault(key, {})
        node.setdefault(last, "VARCHAR")
    odd_objects = {}
    for name in (n for n, kind in FIELD_KINDS.items() if kind == "object"):
        node = spec
        for key in field_map.keys(name):
            node = node[key]
        if isinstance(node, dict):  # a struct: a non-object value comes back as all-null fields
            leaves = " AND ".join(f"{access[name]}[{sql_str(k)}] IS NULL" for k in node)
            odd_objects[name] = f"({access[name]} IS NOT NULL AND {leaves})"
        else:  # a VARCHAR leaf: an object comes back as its JSON text
            odd_objects[name] = f"({access[name]} IS NOT NULL AND {access[name]}[1] <> '{{')"
    return json.dumps(spec), access, odd_objects


def validation_sql(lines: str, field_map: FieldMap, naive_timezone: str) -> str:
    """Return the query that validates relation ``lines(line_no, line, utf8_ok)``.

    One ``json_transform`` reads every field as text. Cheap tests flag the rows that may be bad
    (a field missing, a value that looks like an object, array or boolean where a string is
    due, a number that is not one, an unreadable time, a value out of range); only those rows
    pay for ``json_type`` on each field to name the exact reason. Rows carry every event
    column, ``payload_hash`` and ``status`` (valid / quarantined / blank); quarantined rows also
    carry ``reason``, ``field``, ``detail`` and ``raw``.
    """
    names = list(FIELD_KINDS)
    paths = ", ".join(sql_str(field_map.paths[n]) for n in names)
    spec, access, odd_objects = _struct_spec(field_map)
    values = ", ".join(f"{access[n]} AS s_{n}" for n in names if FIELD_KINDS[n] != "object")
    typed = ", ".join(f"t[{i}] AS t_{n}" for i, n in enumerate(names, 1))
    numeric = [n for n, k in FIELD_KINDS.items() if k in ("number", "integer")]
    textual = [n for n, k in FIELD_KINDS.items() if k in ("id", "time")]
    suspect = " OR ".join(
        [f"s_{n} IS NULL OR trim(s_{n}) = ''" for n in REQUIRED_FIELDS]
        + [f"s_{n}[1] IN ('{{', '[') OR s_{n} IN ('true', 'false')" for n in textual]
        + [f"(s_{n} IS NOT NULL AND num_{n} IS NULL)" for n in numeric]
        + [f"num_{n} <> trunc(num_{n})" for n, k in FIELD_KINDS.items() if k == "integer"]
        + list(odd_objects.values())
        + ["ts_parsed IS NULL OR ts_parsed < TIMESTAMPTZ '2000-01-01' OR ts_parsed >= TIMESTAMPTZ '2100-01-01'"]
        + [f"num_{n} < {lo} OR num_{n} > {hi}" for n, (lo, hi) in VALUE_RANGES.items()]
    )
    missing = " OR ".join(f"t_{n} IS NULL" for n in REQUIRED_FIELDS)
    checks = [
        f"WHEN t_{n} IS NULL OR t_{n} = 'NULL' OR (t_{n} = 'VARCHAR' AND trim(s_{n}) = '') "
        f"THEN {{'r': 'missing_field', 'f': '{n}', 'd': NULL}}"
        for n in REQUIRED_FIELDS
    ]
    checks += [
        f"WHEN t_{n} <> 'NULL' AND t_{n} NOT IN {_OK_TYPES[kind]} "
        f"THEN {{'r': 'wrong_type', 'f': '{n}', 'd': 'got a JSON ' || {_json_type_word(f't_{n}')}}}"
        for n, kind in FIELD_KINDS.items()
    ]
    checks.append(
        "WHEN ts_parsed IS NULL OR ts_parsed < TIMESTAMPTZ '2000-01-01' "
        "OR ts_parsed >= TIMESTAMPTZ '2100-01-01' THEN {'r': 'bad_timestamp', 'f': 'timestamp', "
        "'d': 'no ISO-8601 time or epoch milliseconds in 2000-2099'}"
    )
    checks += [
        f"WHEN num_{n} < {lo} OR num_{n} > {hi} THEN {{'r': 'out_of_range', 'f': '{n}', "
        f"'d': 'value ' || num_{n} || ' outside [{lo:g}, {hi:g}]'}}"
        for n, (lo, hi) in VALUE_RANGES.items()
    ]
    ids = ", ".join(
        f"s_{n} AS {n}" for n, k in FIELD_KINDS.items()
        if k == "id" and n not in ("prompt_id", "response_prompt_id")
    )
    nums = ", ".join(f"TRY_CAST(s_{n} AS DOUBLE) AS num_{n}" for n in numeric)
    drop_keys = "{" + ",".join(f'"{k}":null' for k in field_map.top_level_keys()) + "}"
    return f"""
WITH src AS (
  SELECT line_no, line, utf8_ok, line IS NULL OR trim(line) = '' AS is_blank,
         CASE WHEN utf8_ok AND json_valid(line) THEN json_transform(line, {sql_str(spec)}) END AS s
  FROM {lines}
), vals AS (
  SELECT *, {values} FROM src
), times AS (
  SELECT *, {nums},
    regexp_matches(s_timestamp, '{_OFFSET_RE}') AS has_offset,
    regexp_full_match(s_timestamp, '\\d{{9,}}') AS is_epoch
  FROM vals
), parsed AS (
  SELECT *,
    CASE WHEN is_epoch THEN make_timestamp(TRY_CAST(s_timestamp AS BIGINT) * 1000)::TIMESTAMPTZ
         WHEN has_offset THEN TRY_CAST(s_timestamp AS TIMESTAMPTZ)
         ELSE timezone({sql_str(naive_timezone)}, TRY_CAST(s_timestamp AS TIMESTAMP))
    END AS ts_parsed,
    CASE WHEN has_offset THEN regexp_extract(s_timestamp, '([+-]\\d\\d:?\\d?\\d?|[Zz])\\s*$', 1) END AS off
  FROM times
), flagged AS (
  SELECT *, NOT is_blank AND coalesce(NOT utf8_ok OR s IS NULL OR {suspect}, false) AS suspect FROM parsed
), diagnosed AS (
  SELECT *, {typed} FROM (
    SELECT *, CASE WHEN suspect AND utf8_ok AND json_valid(line) THEN json_type(line, [{paths}]) END AS t
    FROM flagged)
), judged AS (
  SELECT *,
    CASE
      WHEN NOT suspect THEN NULL
      WHEN NOT utf8_ok THEN {{'r': 'invalid_utf8', 'f': NULL, 'd': 'bytes that are not UTF-8 shown as escapes'}}
      WHEN t IS NULL THEN {{'r': 'invalid_json', 'f': NULL, 'd': NULL}}
      WHEN ({missing}) AND json_type(line) <> 'OBJECT'
        THEN {{'r': 'not_an_object', 'f': NULL, 'd': 'got a JSON ' || {_json_type_word('json_type(line)')}}}
{chr(10).join('      ' + c for c in checks)}
    END AS verdict
  FROM diagnosed
)
SELECT
  {ids},
  coalesce(s_response_prompt_id, s_prompt_id) AS prompt_id,
  ts_parsed AS ts,
  CASE WHEN off IN ('Z', 'z') THEN 0
       WHEN off <> '' THEN (CASE WHEN off[1] = '-' THEN -1 ELSE 1 END)
          * (off[2:3]::INTEGER * 60 + coalesce(TRY_CAST(right(off, 2) AS INTEGER) * (length(off) > 3)::INTEGER, 0))
  END::SMALLINT AS utc_offset_min,
  NOT has_offset AND NOT is_epoch AS ts_naive,
  num_duration_ms AS duration_ms, num_expected_duration_ms AS expected_duration_ms,
  num_score AS score, num_attempt::INTEGER AS attempt,
  CASE WHEN verdict IS NULL AND NOT is_blank
       THEN nullif(json_merge_patch(line, '{drop_keys}')::VARCHAR, '{{}}') END AS extra,
  line_no AS source_line,
  hash(line) AS payload_hash,
  CASE WHEN is_blank THEN 'blank' WHEN verdict IS NULL THEN 'valid' ELSE 'quarantined' END AS status,
  verdict.r AS reason, verdict.f AS field, verdict.d AS detail,
  CASE WHEN verdict IS NOT NULL THEN left(line, {MAX_RAW_CHARS}) END AS raw
FROM judged
"""


def _staged_select(sql: str, source: str, source_index: int) -> str:
    """Wrap ``validation_sql`` output into the staged column layout."""
    cols = [c for c in EVENT_SCHEMA.names if c != "source_file"]
    return f"""
SELECT {", ".join(cols)}, {sql_str(source)} AS source_file,
       {int(source_index)}::INTEGER AS source_index, payload_hash, status,
       reason, field, detail, raw
FROM ({sql})"""


def _read_ahead(batches: Iterator, depth: int = 2) -> Iterator:
    """Yield from ``batches`` while a thread reads the next ones (I/O and splitting release
    the GIL, so they overlap duckdb's work on the current batch)."""
    done = object()
    q: queue.Queue = queue.Queue(maxsize=depth)

    def fill() -> None:
        try:
            for item in batches:
                q.put(item)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)
        q.put(done)

    threading.Thread(target=fill, daemon=True).start()
    while (item := q.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def open_text_source(path: str | Path) -> BinaryIO:
    """Open a local file for reading bytes, unwrapping gzip by the ``.gz`` extension."""
    path = str(path)
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def detect_format(path: str | Path) -> str:
    """Return ``"array"`` when the first non-blank byte is ``[``, else ``"ndjson"``."""
    with open_text_source(path) as f:
        head = f.read(4096).lstrip(b" \t\r\n\xef\xbb\xbf")
    return "array" if head.startswith(b"[") else "ndjson"


def iter_ndjson_lines(stream: BinaryIO, batch_bytes: int) -> Iterator[tuple[int, pa.Array]]:
    """Yield ``(first_line_number, lines)`` batches of raw lines (binary, newline stripped)."""
    line_no = 1
    rest = b""
    while chunk := stream.read(batch_bytes):
        chunk = rest + chunk
        cut = chunk.rfind(b"\n")
        if cut < 0:
            rest = chunk
            continue
        rest = chunk[cut + 1:]
        lines = pc.split_pattern(pa.array([chunk[:cut]], pa.binary()), b"\n").flatten()
        yield line_no, lines
        line_no += len(lines)
    if rest:
        yield line_no, pa.array([rest], pa.binary())


def _decode(lines: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Return (text, utf8_ok) for raw lines; bytes that are not UTF-8 are shown escaped."""
    try:
        text = pc.utf8_rtrim(lines.cast(pa.string()), characters="\r")
        return text, pa.array([True] * len(text))
    except pa.ArrowInvalid:
        raw = lines.to_pylist()
        ok = [_is_utf8(b) for b in raw]
        return pa.array([_decode_one(b) for b in raw], pa.string()), pa.array(ok)


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _decode_one(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace").rstrip("\r")


def array_to_ndjson(src: str | Path, dst: str | Path) -> dict | None:
    """Write the items of a top-level JSON array in ``src`` as NDJSON lines to ``dst``.

    Returns None, or ``{"item", "message", "raw"}`` describing where the array broke off.
    """
    with open_text_source(src) as f, open(dst, "wb") as out:
        number = 0
        try:
            for number, item in enumerate(ijson.items(f, "item", use_float=True), start=1):
                out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())
                out.write(b"\n")
        except ijson.JSONError as exc:
            tail = f.read(MAX_RAW_CHARS).decode("utf-8", "replace")
            return {"item": number + 1, "message": str(exc).splitlines()[0], "raw": tail}
    return None


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
    sql = _staged_select(validation_sql("lines", options.field_map, options.naive_timezone),
                         source, source_index)
    with open_text_source(staged.local_path) as stream:
        for k, (first, raw_lines) in enumerate(_read_ahead(iter_ndjson_lines(stream, options.batch_bytes))):
            text, utf8_ok = _decode(raw_lines)
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
    staged.valid, staged.naive_timestamps = counts.get("valid", (0, 0))
    staged.quarantined = counts.get("quarantined", (0, 0))[0]
    staged.blank_lines = counts.get("blank", (0, 0))[0]
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
           "status": "quarantined", "reason": "array_syntax_error", "field": None,
           "detail": f"{broken['message']}; the rest of the file is this one record",
           "event_id": None, "raw": broken["raw"]}
    pq.write_table(pa.Table.from_pylist([row], schema=schema), staged_dir / "array-error.parquet")


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
        con.execute(f"CREATE TEMP VIEW staged AS SELECT * FROM {records} WHERE status = 'valid'")
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
    bad = f"SELECT {qcols} FROM {records} WHERE status = 'quarantined' UNION ALL " if any(
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
                    rows["reason"].append("conflicting_duplicate")
                    rows["field"].append("event_id")
                    rows["detail"].append("same event_id as an earlier record, different payload")
                    rows["event_id"].append(wanted[line_no])
                    rows["raw"].append(_decode_one(lines[line_no - first].as_py())[:MAX_RAW_CHARS])
    return pa.table(rows, schema=QUARANTINE_SCHEMA)
