"""The duckdb query that validates a batch of lines against the field map, reason by reason."""

from __future__ import annotations

import json

from features.duck import sql_str
from features.ingest.extra import extra_sql
from features.ingest.options import MAX_RAW_CHARS
from features.statuses import QuarantineReason, RecordStatus
from features.telemetry_schema import EVENT_SCHEMA, FIELD_KINDS, REQUIRED_FIELDS, VALUE_RANGES, FieldMap

R = QuarantineReason  # short name for the reason codes written into SQL below
BLANKS = "' ' || chr(9) || chr(13)"  # JSON whitespace on a line: a line of only these is blank


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
# A text field that is empty, starts with a space or holds an object, an array or a boolean,
# found in all text fields at once: they are joined with a separator (0x1f) each value follows.
_ODD_TEXT_RE = r"\x1f([{\[ \x1f]|true\x1f|false\x1f)"


def _struct_spec(field_map: FieldMap, common_keys: tuple[str, ...]) -> tuple[str, dict[str, str], dict[str, str]]:
    """Return the ``json_transform`` structure (every field's leaf VARCHAR, each common extra
    key JSON), the SQL reading each field from the transformed struct ``s``, and, per object
    field, an SQL test that is true when the value is there but is not a usable object."""
    spec: dict = {key: "JSON" for key in common_keys}
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


def validation_sql(lines: str, field_map: FieldMap, naive_timezone: str, common_keys: tuple[str, ...] = ()) -> str:
    """Return the query that validates relation ``lines(line_no, line, utf8_ok, preset_reason,
    preset_detail)``: a line whose verdict its reader already knows (a file-level problem)
    carries it in ``preset_*``. ``common_keys`` are the extra keys most records of the file
    carry (``features.ingest.extra``).

    One ``json_transform`` reads every field as text. Cheap tests flag the rows that may be bad
    (a field missing, a value that looks like an object, array or boolean where a string is
    due, a number that is not one, an unreadable time, a value out of range); only those rows
    pay for ``json_type`` on each field to name the exact reason. Rows carry every event
    column, ``payload_hash`` and ``status`` (valid / quarantined / blank); quarantined rows also
    carry ``reason``, ``field``, ``detail`` and ``raw``.
    """
    names = list(FIELD_KINDS)
    paths = ", ".join(sql_str(field_map.paths[n]) for n in names)
    spec, access, odd_objects = _struct_spec(field_map, common_keys)
    values = ", ".join(f"{access[n]} AS s_{n}" for n in names if FIELD_KINDS[n] != "object")
    typed = ", ".join(f"t[{i}] AS t_{n}" for i, n in enumerate(names, 1))
    numeric = [n for n, k in FIELD_KINDS.items() if k in ("number", "integer")]
    textual = [n for n, k in FIELD_KINDS.items() if k in ("id", "time")]
    # Cheap tests on first characters; a row they flag pays for the exact diagnosis below.
    joined_text = "concat_ws(chr(31), '', " + ", ".join(f"s_{n}" for n in textual) + ", '')"  # skips nulls
    suspect = " OR ".join(
        [f"s_{n} IS NULL" for n in REQUIRED_FIELDS]
        + [f"regexp_matches({joined_text}, '{_ODD_TEXT_RE}')"]
        + [f"(s_{n} IS NOT NULL AND num_{n} IS NULL)" for n in numeric]
        + [f"num_{n} <> trunc(num_{n})" for n, k in FIELD_KINDS.items() if k == "integer"]
        + list(odd_objects.values())
        + ["ts_parsed IS NULL OR NOT (ts_parsed BETWEEN TIMESTAMPTZ '2000-01-01' "
           "AND TIMESTAMPTZ '2099-12-31 23:59:59.999999')"]
        + [f"NOT (num_{n} BETWEEN {lo} AND {hi})" for n, (lo, hi) in VALUE_RANGES.items()]
    )
    missing = " OR ".join(f"t_{n} IS NULL" for n in REQUIRED_FIELDS)
    checks = [
        f"WHEN t_{n} IS NULL OR t_{n} = 'NULL' OR (t_{n} = 'VARCHAR' AND trim(s_{n}) = '') "
        f"THEN {{'r': '{R.MISSING_FIELD}', 'f': '{n}', 'd': NULL}}"
        for n in REQUIRED_FIELDS
    ]
    checks += [
        f"WHEN t_{n} <> 'NULL' AND t_{n} NOT IN {_OK_TYPES[kind]} "
        f"THEN {{'r': '{R.WRONG_TYPE}', 'f': '{n}', 'd': 'got a JSON ' || {_json_type_word(f't_{n}')}}}"
        for n, kind in FIELD_KINDS.items()
    ]
    checks.append(
        "WHEN ts_parsed IS NULL OR ts_parsed < TIMESTAMPTZ '2000-01-01' "
        f"OR ts_parsed >= TIMESTAMPTZ '2100-01-01' THEN {{'r': '{R.BAD_TIMESTAMP}', 'f': 'timestamp', "
        "'d': 'no ISO-8601 time or epoch milliseconds in 2000-2099'}"
    )
    checks += [
        f"WHEN num_{n} < {lo} OR num_{n} > {hi} THEN {{'r': '{R.OUT_OF_RANGE}', 'f': '{n}', "
        f"'d': 'value ' || num_{n} || ' outside [{lo:g}, {hi:g}]'}}"
        for n, (lo, hi) in VALUE_RANGES.items()
    ]
    ids = ", ".join(
        f"s_{n} AS {n}" for n, k in FIELD_KINDS.items()
        if k == "id" and n not in ("prompt_id", "response_prompt_id")
    )
    nums = ", ".join(f"TRY_CAST(s_{n} AS DOUBLE) AS num_{n}" for n in numeric)
    return f"""
WITH checked AS (
  -- A NUL byte makes a line invalid JSON, so only lines that are not JSON are searched for one.
  SELECT line_no, line, utf8_ok, preset_reason, preset_detail,
         coalesce(preset_reason IS NULL AND utf8_ok AND json_valid(line), false) AS is_json
  FROM {lines}
), src AS (
  SELECT *,
         -- Only a line that is not JSON can be blank: the costly trim runs on few lines.
         CASE WHEN NOT is_json AND preset_reason IS NULL THEN line IS NULL OR trim(line, {BLANKS}) = ''
              ELSE false END AS is_blank,
         CASE WHEN is_json THEN json_transform(line, {sql_str(spec)}) END AS s
  FROM checked
), vals AS (
  SELECT *, {values} FROM src
), times AS (
  SELECT *, {nums},
    regexp_matches(s_timestamp, '{_OFFSET_RE}') AS has_offset,
    -- The clock as written, any offset ignored; a time with an offset is this minus the offset.
    TRY_CAST(s_timestamp AS TIMESTAMP) AS ts_local
  FROM vals
), time_kinds AS (
  -- Only a time no reading takes can be epoch milliseconds: the pattern runs on few rows.
  SELECT *, CASE WHEN has_offset OR ts_local IS NOT NULL THEN false
                 ELSE regexp_full_match(s_timestamp, '\\d{{9,}}') END AS is_epoch FROM times
), parsed AS (
  SELECT *,
    CASE WHEN is_epoch THEN make_timestamp(TRY_CAST(s_timestamp AS BIGINT) * 1000)::TIMESTAMPTZ
         WHEN has_offset THEN TRY_CAST(s_timestamp AS TIMESTAMPTZ)
         ELSE timezone({sql_str(naive_timezone)}, ts_local)
    END AS ts_parsed
  FROM time_kinds
), flagged AS (
  SELECT *, NOT is_blank AND coalesce(s IS NULL OR {suspect}, false) AS suspect FROM parsed
), diagnosed AS (
  SELECT *, {typed} FROM (
    SELECT *, CASE WHEN suspect AND is_json THEN json_type(line, [{paths}]) END AS t
    FROM flagged)
), judged AS (
  SELECT *,
    CASE
      WHEN NOT suspect THEN NULL
      WHEN preset_reason IS NOT NULL THEN {{'r': preset_reason, 'f': NULL, 'd': preset_detail}}
      WHEN NOT utf8_ok THEN {{'r': '{R.INVALID_UTF8}', 'f': NULL, 'd': 'bytes that are not UTF-8 shown as escapes'}}
      WHEN contains(line, chr(0)) THEN {{'r': '{R.INVALID_UTF8}', 'f': NULL, 'd': 'NUL bytes: not UTF-8 text (UTF-16?)'}}
      WHEN t IS NULL THEN {{'r': '{R.INVALID_JSON}', 'f': NULL, 'd': NULL}}
      WHEN ({missing}) AND json_type(line) <> 'OBJECT'
        THEN {{'r': '{R.NOT_AN_OBJECT}', 'f': NULL, 'd': 'got a JSON ' || {_json_type_word('json_type(line)')}}}
{chr(10).join('      ' + c for c in checks)}
    END AS verdict
  FROM diagnosed
), kept AS (
  SELECT *, CASE WHEN verdict IS NULL AND NOT is_blank THEN json_keys(line) END AS keys FROM judged
)
SELECT
  {ids},
  coalesce(s_response_prompt_id, s_prompt_id) AS prompt_id,
  ts_parsed AS ts,
  CASE WHEN has_offset THEN (epoch_us(ts_local) - epoch_us(ts_parsed)) // 60000000 END::SMALLINT AS utc_offset_min,
  NOT has_offset AND NOT is_epoch AS ts_naive,
  num_duration_ms AS duration_ms, num_expected_duration_ms AS expected_duration_ms,
  num_score AS score, num_attempt::INTEGER AS attempt,
  CASE WHEN keys IS NOT NULL THEN {extra_sql(field_map, common_keys, "s", "keys")} END AS extra,
  line_no AS source_line,
  hash(line) AS payload_hash,
  CASE WHEN is_blank THEN '{RecordStatus.BLANK}' WHEN verdict IS NULL THEN '{RecordStatus.VALID}'
       ELSE '{RecordStatus.QUARANTINED}' END AS status,
  verdict.r AS reason, verdict.f AS field, verdict.d AS detail,
  CASE WHEN verdict IS NOT NULL THEN left(line, {MAX_RAW_CHARS}) END AS raw
FROM kept
"""


def staged_select(sql: str, source: str, source_index: int) -> str:
    """Wrap ``validation_sql`` output into the staged column layout."""
    cols = [c for c in EVENT_SCHEMA.names if c != "source_file"]
    return f"""
SELECT {", ".join(cols)}, {sql_str(source)} AS source_file,
       {int(source_index)}::INTEGER AS source_index, payload_hash, status,
       reason, field, detail, raw
FROM ({sql})"""
