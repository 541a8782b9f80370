"""The ``extra`` column: a record's top-level keys outside the field map, as one JSON object.

Rebuilding a record without its known keys (``json_merge_patch``) costs more than the rest of
validation together. Most files repeat one set of extra keys on every record (an app version,
a device), so the keys most common in a file's first lines are read by the validation query's
own ``json_transform`` and joined as text when a record's keys outside the field map are
exactly that set, in that order; any other record is rebuilt. Both ways give the same text
(tests hold them equal).

"Exactly that set" is decided by counting, not by filtering the record's key list (which cost
as much again as listing it): the keys a record has number at least its known keys with a
value plus its common keys with a value, so when the count is exactly that sum there is no
other key and no key twice.
"""

from __future__ import annotations

import json
import re

from features.duck import sql_str
from features.telemetry_schema import FieldMap

SAMPLE_LINES = 2_000
# Keys spelt with only these characters need no escaping in JSON or in SQL.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def common_extra_keys_sql(lines: str, field_map: FieldMap) -> str:
    """Return the query giving the list of extra keys (top-level keys outside the field map,
    in order) most common among the first ``SAMPLE_LINES`` JSON objects of relation ``lines``
    (no row when there are none)."""
    known = "[" + ", ".join(sql_str(k) for k in field_map.top_level_keys()) + "]"
    return f"""
SELECT ks FROM (
  SELECT list_filter(json_keys(line), lambda k: NOT list_contains({known}, k)) AS ks
  FROM (SELECT line FROM {lines} LIMIT {SAMPLE_LINES})
  WHERE json_valid(line) AND json_type(line) = 'OBJECT')
WHERE len(ks) > 0 GROUP BY ks ORDER BY count(*) DESC, ks LIMIT 1"""


def usable_common_keys(keys: list[str] | None) -> tuple[str, ...]:
    """Return the common keys the fast path can join as text (none when a key needs escaping)."""
    keys = list(keys or ())
    return tuple(keys) if keys and all(_PLAIN_KEY.fullmatch(k) for k in keys) else ()


def extra_sql(field_map: FieldMap, common_keys: tuple[str, ...], values: str, keys: str) -> str:
    """Return the SQL text of ``extra`` for a valid JSON object in column ``line`` whose
    top-level keys are the list in column ``keys`` (``json_keys(line)``).

    ``values`` is the struct that ``json_transform`` made of the line: each top-level key of
    the field map, and each of ``common_keys`` read as JSON (a JSON null or a missing key
    comes back as SQL NULL). Null when the record has no key outside the field map.
    """
    top_level = field_map.top_level_keys()
    drop_keys = "{" + ",".join(f"{json.dumps(k)}:null" for k in top_level) + "}"
    rebuilt = f"nullif(json_merge_patch(line, {sql_str(drop_keys)})::VARCHAR, '{{}}')"
    known = " + ".join(f"({values}[{sql_str(k)}] IS NOT NULL)::INTEGER" for k in top_level)
    count = f"len({keys})"
    if not common_keys:
        return f"CASE WHEN {count} = {known} THEN NULL ELSE {rebuilt} END"
    parts = [sql_str(("{" if i == 0 else ",") + json.dumps(k) + ":") + f", {values}[{sql_str(k)}]"
             for i, k in enumerate(common_keys)]
    joined = f"concat({', '.join(parts)}, '}}')"  # one string built, not one per ||
    present = " AND ".join(f"{values}[{sql_str(k)}] IS NOT NULL" for k in common_keys)
    in_order = " AND ".join(f"list_position({keys}, {sql_str(a)}) < list_position({keys}, {sql_str(b)})"
                            for a, b in zip(common_keys, common_keys[1:])) or "true"
    return (f"CASE WHEN {count} = {known} THEN NULL "
            f"WHEN {count} = {known} + {len(common_keys)} AND {present} AND {in_order} "
            f"THEN {joined} ELSE {rebuilt} END")
