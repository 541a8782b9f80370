"""The canonical telemetry event: its fields, where a platform keeps them, and the Arrow schemas.

A platform's records are mapped onto the canonical form by a *field map*: one JSON path per
canonical field (``$.user_id`` by default). Top-level keys that no path reads are kept, as JSON,
in the ``extra`` column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import re

import pyarrow as pa

# Canonical field -> kind. "id": string (an integer is accepted and kept as its decimal text);
# "time": ISO-8601 string or epoch milliseconds; "number"/"integer": JSON numbers;
# "object": a JSON object.
FIELD_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "event_id": "id",
        "event_type": "id",
        "user_id": "id",
        "session_id": "id",
        "timestamp": "time",
        "level": "id",
        "cohort": "id",
        "course_id": "id",
        "lesson_id": "id",
        "milestone_id": "id",
        "prompt_id": "id",
        "response": "object",
        "response_prompt_id": "id",
        "audio_uri": "id",
        "duration_ms": "number",
        "expected_duration_ms": "number",
        "score": "number",
        "attempt": "integer",
    }
)

REQUIRED_FIELDS = ("event_id", "event_type", "user_id", "timestamp")

DEFAULT_PATHS: Mapping[str, str] = MappingProxyType(
    {
        **{name: f"$.{name}" for name in FIELD_KINDS},
        "response_prompt_id": "$.response.prompt_id",
        "audio_uri": "$.response.audio_uri",
        "duration_ms": "$.response.duration_ms",
        "expected_duration_ms": "$.response.expected_duration_ms",
        "score": "$.response.score",
        "attempt": "$.response.attempt",
    }
)

# Inclusive numeric ranges; a value outside is quarantined as out_of_range.
VALUE_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "duration_ms": (0.0, 3_600_000.0),
        "expected_duration_ms": (0.0, 3_600_000.0),
        "score": (0.0, 1.0),
        "attempt": (1.0, 1000.0),
    }
)

KNOWN_EVENT_TYPES = frozenset(
    {
        "app_open",
        "session_start",
        "session_end",
        "lesson_start",
        "lesson_complete",
        "prompt_shown",
        "response_submitted",
        "milestone_reached",
        "level_up",
    }
)


@dataclass(frozen=True)
class FieldMap:
    """Where a platform keeps each canonical field, as a ``$.a.b`` JSON path.

    Raises:
        ValueError: on an unknown canonical field name or a path that does not start with ``$.``.
    """

    paths: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PATHS))

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, str] | None) -> "FieldMap":
        """Return the default map with ``overrides`` (canonical name -> path) applied."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(FIELD_KINDS))
        if unknown:
            raise ValueError(
                f"field_map: unknown canonical field(s) {unknown}; known: {sorted(FIELD_KINDS)}"
            )
        for name, path in overrides.items():
            if not isinstance(path, str) or not _PATH_RE.fullmatch(path):
                raise ValueError(
                    f"field_map.{name}: path must look like '$.key' or '$.key.subkey', got {path!r}"
                )
        paths = {**DEFAULT_PATHS, **overrides}
        for name, path in paths.items():
            for other, other_path in paths.items():
                if FIELD_KINDS[other] != "object" and path.startswith(other_path + "."):
                    raise ValueError(
                        f"field_map.{name}: path {path!r} lies inside {other}'s value {other_path!r}"
                    )
        return cls(paths)

    def keys(self, name: str) -> list[str]:
        """Return the key chain of a field's path: ``$.a.b`` -> ``["a", "b"]``."""
        return self.paths[name][2:].split(".")

    def top_level_keys(self) -> list[str]:
        """Return the top-level record keys that some canonical field reads (not kept in extra)."""
        return sorted({self.keys(n)[0] for n in self.paths})


_PATH_RE = re.compile(r"\$(\.[^.\[\]'\"\s]+)+")


TS = pa.timestamp("us", tz="UTC")

# The cleaned event table (one row per kept event); see docs/tables.md.
EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("user_id", pa.string()),
        ("session_id", pa.string()),
        ("ts", TS),
        ("utc_offset_min", pa.int16()),
        ("ts_naive", pa.bool_()),
        ("level", pa.string()),
        ("cohort", pa.string()),
        ("course_id", pa.string()),
        ("lesson_id", pa.string()),
        ("milestone_id", pa.string()),
        ("prompt_id", pa.string()),
        ("audio_uri", pa.string()),
        ("duration_ms", pa.float64()),
        ("expected_duration_ms", pa.float64()),
        ("score", pa.float64()),
        ("attempt", pa.int32()),
        ("extra", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("reason", pa.string()),
        ("field", pa.string()),
        ("detail", pa.string()),
        ("event_id", pa.string()),
        ("raw", pa.string()),
    ]
)
