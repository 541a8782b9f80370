"""Publishing task bodies: scratch folders, partitions, the quality verdict, a failed ingest."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from outputs.quality import QualityGates
from outputs.tables import write_parquet
from tasks.publish import close_workspace, keep_failed_quarantine, open_workspace, publish_tables, quality_verdict


def counts(quarantined=0, unmapped=0):
    return {"ingest": {"input_records": 100, "quarantined": quarantined,
                       "quarantined_by_reason": {"invalid_json": quarantined}},
            "responses": {"responses": 10, "unmapped": unmapped}}


def test_workspace_is_fresh_and_removed(tmp_path):
    work = open_workspace.fn(str(tmp_path), "k")
    (Path(work) / "leftover").write_text("x")
    assert list(Path(open_workspace.fn(str(tmp_path), "k")).iterdir()) == []
    close_workspace.fn(work)
    assert not Path(work).exists()


def test_tables_land_in_their_run_date_partition(tmp_path):
    path = write_parquet(pa.table({"x": [1]}), tmp_path / "w" / "t.parquet")
    folders = publish_tables.fn({"events": path}, str(tmp_path / "out"), date(2026, 9, 1))
    assert folders == {"events": str(tmp_path / "out" / "events" / "run_date=2026-09-01")}


def test_quality_verdict_names_each_breached_gate():
    gates = QualityGates(max_quarantine_share=0.05, max_unmapped_share=0.2)
    assert quality_verdict.fn(counts(5, 2), gates) is None
    message = quality_verdict.fn(counts(9, 3), gates)
    assert "9.0% of input records were quarantined" in message and "invalid_json=9" in message
    assert "30.0% of responses map to no milestone" in message


def test_a_run_with_no_surviving_event_keeps_its_quarantine(tmp_path):
    quarantine = write_parquet(pa.table({"reason": ["invalid_json"] * 3}), tmp_path / "q.parquet")
    events = write_parquet(pa.table({"event_type": pa.array([], pa.string())}), tmp_path / "e.parquet")
    ingest = {"files": [{"staged": {"records": 3, "blank_lines": 0, "naive_timestamps": 0, "reader": "duckdb"}}], "events": 0,
              "duplicates": 0, "quarantine_path": quarantine, "events_path": events}
    message = keep_failed_quarantine.fn(ingest, str(tmp_path / "out"), "abcdef0123456789", QualityGates())
    kept = tmp_path / "out" / "_failed" / "abcdef012345" / "quarantine.parquet"
    assert "100.0% of input records were quarantined" in message and str(kept) in message
    assert pq.read_table(kept).num_rows == 3
