"""Erasure from the tables: every row naming the learner goes (as a value, or as a token in raw
text, even broken), rows of learners whose ids merely contain it stay, partitions are swapped whole,
and the manifest records counts without the id."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from outputs.manifest import read_manifest, write_manifest
from outputs.purge import purge_tables, record_purge
from outputs.tables import partition_dir, read_partition

DAY = date(2026, 12, 20)


def write(root, table, rows):
    folder = partition_dir(root, table, DAY)
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-0.parquet")


def test_every_row_naming_the_learner_goes_and_no_other(tmp_path):
    write(tmp_path, "events", [{"user_id": "u1", "event_id": "e1"}, {"user_id": "u10", "event_id": "e2"}])
    write(tmp_path, "quarantine", [{"raw": '{"user_id":"u1","timestamp":"soon"}', "event_id": None},
                                   {"raw": '{"user_id":"u10"}', "event_id": None}, {"raw": '{"user_id": "u1', "event_id": None}])
    write(tmp_path, "responses", [{"user_id": "u1", "content_key": "k1"}, {"user_id": "u2", "content_key": "k2"}])
    write(tmp_path, "groups", [{"group_id": 1, "name": "steady"}])
    jsonl = partition_dir(tmp_path, "nudges_jsonl", DAY)
    jsonl.mkdir(parents=True)
    (jsonl / "nudges.jsonl").write_text(json.dumps({"user_id": "u1"}) + "\n" + json.dumps({"user_id": "u2"}) + "\n")
    write_manifest(tmp_path, DAY, {"run_date": DAY.isoformat(), "counts": {}})

    purged = purge_tables(tmp_path, "u1")
    assert purged.rows == {"2026-12-20": {"events": 1, "quarantine": 2, "responses": 1, "nudges_jsonl": 1}}
    assert purged.content_keys == {"k1"}
    assert read_partition(tmp_path, "events", DAY)["user_id"].to_pylist() == ["u10"]
    # A broken record naming the learner goes too; one naming u10 stays.
    assert read_partition(tmp_path, "quarantine", DAY)["raw"].to_pylist() == ['{"user_id":"u10"}']
    assert (jsonl / "nudges.jsonl").read_text() == json.dumps({"user_id": "u2"}) + "\n"
    assert read_partition(tmp_path, "groups", DAY).num_rows == 1

    record_purge(tmp_path, purged.rows)
    manifest = read_manifest(tmp_path, DAY)
    assert manifest["purges"][0]["rows_removed"]["events"] == 1 and "u1" not in json.dumps(manifest["purges"])
    assert purge_tables(tmp_path, "u1").rows == {}  # nothing left to remove
