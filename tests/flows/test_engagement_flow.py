"""The engagement_pipeline flow end to end: emulator bucket in, tables and manifest out."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import yaml

from flows.config import RunParameters
from flows.engagement import engagement_pipeline
from outputs.tables import TABLES, read_partition
from tasks.publish import RunThresholdError

pytestmark = pytest.mark.slow


def write_config(tmp_path, bucket, **telemetry):
    config = {"telemetry": {"sources": [f"gs://{bucket}/telemetry/"], **telemetry},
              "storage": {"project": "engage-test"}, "output": {"root": "out"}}
    path = tmp_path / "engage.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, prefect_harness, small_platform):
    tmp = tmp_path_factory.mktemp("run")
    config = write_config(tmp, small_platform["bucket"])
    first = engagement_pipeline(RunParameters(config_file=str(config)))
    tables = {name: read_partition(tmp / "out", name, first_run_date(first)) for name in TABLES}
    second = engagement_pipeline(RunParameters(config_file=str(config)))
    return {"dir": tmp, "first": first, "second": second, "tables": tables}


def first_run_date(manifest):
    from datetime import date

    return date.fromisoformat(manifest["run_date"])


def test_flow_writes_every_table_and_a_manifest_whose_counts_reconcile(two_runs, small_platform):
    manifest = two_runs["first"]
    assert manifest["accounting_problems"] == []
    c = manifest["counts"]
    assert c["ingest"]["input_records"] == c["ingest"]["events"] + c["ingest"]["duplicates"] + c["ingest"]["quarantined"]
    assert c["ingest"]["quarantined"] > 0 and c["ingest"]["duplicates"] > 0
    assert c["responses"]["responses"] == c["responses"]["mapped"] + c["responses"]["unmapped"] > 0
    tables = two_runs["tables"]
    assert tables["events"].num_rows == c["ingest"]["events"]
    assert tables["quarantine"].num_rows == c["ingest"]["quarantined"]
    assert tables["responses"].num_rows == c["responses"]["responses"]
    on_disk = json.loads(open(manifest["manifest_path"]).read())
    assert on_disk["counts"] == c
    assert all(i["uri"].startswith("gs://engage-test/telemetry/") and i["md5"] for i in manifest["inputs"])
    # as_of defaults to the latest event time.
    assert manifest["as_of"] == max(tables["events"]["ts"].to_pylist()).isoformat()


def test_phase_activity_covers_every_learner_phase_the_simulator_reached(two_runs, small_platform):
    truth = pq.read_table(small_platform["dir"] / "truth" / "learner_phase.parquet").to_pylist()
    activity = two_runs["tables"]["phase_activity"].to_pylist()
    got = {(r["user_id"], r["phase"]) for r in activity}
    assert {(r["user_id"], r["phase"]) for r in truth} <= got
    truth_responses = {(r["user_id"], r["phase"]): r["responses"] for r in truth}
    for row in activity:
        if (row["user_id"], row["phase"]) in truth_responses:
            assert row["responses"] == truth_responses[(row["user_id"], row["phase"])]
    assert all(r["responses"] >= 3 for r in activity if (r["user_id"], r["phase"]) in truth_responses)


def test_audio_uris_point_into_the_emulator_bucket(two_runs):
    uris = [u for u in two_runs["tables"]["responses"]["audio_uri"].to_pylist() if u]
    assert uris and all(u.startswith("gs://engage-test/audio/") for u in uris)


def test_second_run_with_same_inputs_gives_identical_tables(two_runs):
    second = two_runs["second"]
    assert second["run_date"] == two_runs["first"]["run_date"]
    for name in TABLES:
        again = read_partition(two_runs["dir"] / "out", name, first_run_date(second))
        assert again.equals(two_runs["tables"][name]), name
    assert second["counts"] == two_runs["first"]["counts"]


def test_a_wrong_field_map_fails_loudly_after_writing_quarantine(tmp_path, prefect_harness, small_platform):
    config = write_config(tmp_path, small_platform["bucket"], field_map={"user_id": "$.learner_id"})
    with pytest.raises(RunThresholdError, match="quarantined.*is the field map right") as err:
        engagement_pipeline(RunParameters(config_file=str(config)))
    kept = str(err.value).rsplit("quarantine kept in ", 1)[1].rstrip(")")
    quarantine = pq.read_table(kept).to_pylist()
    assert {q["reason"] for q in quarantine} >= {"missing_field"}
    assert any(q["field"] == "user_id" for q in quarantine)
