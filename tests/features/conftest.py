"""Helpers to build small event tables in the cleaned-event schema."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from features.curriculum import parse_curriculum
from features.telemetry_schema import EVENT_SCHEMA

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)


def make_events(rows: list[dict]) -> pa.Table:
    """Build an events table; ``minutes`` sets ts relative to T0."""
    full = []
    for i, row in enumerate(rows):
        row = dict(row)
        ts = T0 + timedelta(minutes=row.pop("minutes", i))
        full.append({"event_id": row.pop("event_id", f"e{i:04d}"), "ts": ts, "ts_naive": False,
                     "source_file": "t", "source_line": i + 1, **row})
    return pa.Table.from_pylist(full, schema=EVENT_SCHEMA)


@pytest.fixture
def curriculum():
    return parse_curriculum({"courses": {
        "english": {"language": "en", "phases": ["onboarding", "foundations"], "levels": {
            "A1": {"milestones": [
                {"id": "A1-M1", "phase": "onboarding", "lessons": ["A1-L1", "A1-L2"]},
                {"id": "A1-M2", "phase": "foundations", "lessons": ["A1-L3"]}]},
            "A2": {"milestones": [
                {"id": "A2-M1", "phase": "onboarding", "lessons": ["A2-L1"]},
                {"id": "A2-M2", "phase": "foundations", "lessons": ["A2-L2"]}]}}}}})
