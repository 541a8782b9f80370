"""The simulator's planted telemetry problems, through ingest, against its ground truth."""

from __future__ import annotations

import gzip
from collections import Counter

import pyarrow.parquet as pq
import pytest

from features.curriculum import load_curriculum
from features.ingest import IngestOptions, finalize_events, stage_file
from features.simulation.platform import SimulationConfig, simulate
from features.simulation.publish import DEMO_CURRICULUM


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sim")
    platform = simulate(SimulationConfig(learners=60, seed=3), load_curriculum(DEMO_CURRICULUM))
    staged = []
    for i, (name, lines) in enumerate(sorted(platform.telemetry.items())):
        path = tmp / name
        path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
        staged.append(stage_file(path, name, i, tmp / "staged", IngestOptions()))
    result = finalize_events(staged, tmp / "events.parquet", tmp / "q.parquet", IngestOptions())
    return {"platform": platform, "staged": staged, "result": result,
            "events": pq.read_table(tmp / "events.parquet"),
            "quarantine": pq.read_table(tmp / "q.parquet").to_pylist()}


def test_every_planted_bad_record_is_quarantined_with_its_reason(ingested):
    truth = ingested["platform"].bad_records
    expected = {(r["file"], r["line"]): (r["expected_reason"], r["expected_field"] or None)
                for r in truth.fillna("").to_dict("records") if r["expected_reason"]}
    got = {(q["source_file"], q["source_line"]): (q["reason"], q["field"]) for q in ingested["quarantine"]}
    assert len(expected) > 50
    assert got == expected


def test_planted_duplicates_are_dropped_and_unknown_types_and_naive_times_kept(ingested):
    truth = Counter(ingested["platform"].bad_records.kind)
    result, events = ingested["result"], ingested["events"]
    assert result.duplicates == truth["duplicate"] > 0
    types = Counter(events["event_type"].to_pylist())
    assert types["streak_freeze_used"] == truth["unknown_event_type"] > 0
    assert sum(s.naive_timestamps for s in ingested["staged"]) == truth["naive_timestamp"] > 0


def test_accounting_holds_input_equals_events_plus_duplicates_plus_quarantined(ingested):
    staged, result = ingested["staged"], ingested["result"]
    n_input = sum(s.records for s in staged)
    assert n_input == result.events + result.duplicates + len(ingested["quarantine"])
    assert result.events == ingested["events"].num_rows
    assert sum(s.valid for s in staged) == result.events + result.duplicates + result.conflicting
    assert result.events == len(set(ingested["events"]["event_id"].to_pylist()))
