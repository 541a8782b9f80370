"""A whole run through a proxy that fails 20% of storage requests (503s, connection resets,
bodies cut off half way, stalls past the client's timeout), for telemetry and audio: the run
completes, every telemetry record arrives, the manifest reconciles, and every answer has one
audio status: the one its planted clip should get, or ``fetch_failed`` after the configured
retries."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest
import yaml

from features.ingest import IngestOptions, stage_file
from features.simulation.publish import DEMO_CURRICULUM
from flows.config import RunParameters
from flows.engagement import engagement_pipeline
from outputs.tables import read_partition
from tests.audio.fault_proxy import FAULTS, FaultProxy

pytestmark = pytest.mark.slow
EXPECTED = {"ok": {"ok"}, "clipped": {"ok"}, "silent": {"silent"}, "noisy": {"noisy"}, "missing": {"missing"},
            "corrupt": {"corrupt"}, "truncated": {"corrupt", "too_short"}}


def test_a_run_through_a_fifth_of_storage_requests_failing_completes_and_reconciles(
        tmp_path, prefect_harness, small_platform, gcs_emulator, monkeypatch):
    bucket = small_platform["bucket"]
    config = {"inputs": {"telemetry": [f"gs://{bucket}/telemetry/"], "curriculum": str(DEMO_CURRICULUM)},
              "storage": {"project": "engage-test"}, "output": {"root": str(tmp_path / "out")},
              "audio": {"batch_size": 150, "fetch": {"allowed_prefixes": [f"gs://{bucket}/audio/"], "timeout_s": 1.0,
                                                      "retry_deadline_s": 30.0, "initial_backoff_s": 0.05}}}
    (tmp_path / "engage.yaml").write_text(yaml.safe_dump(config))
    with FaultProxy(gcs_emulator.host, random_share=0.2, stall_s=2.0, seed=5) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.host)
        manifest = engagement_pipeline(RunParameters(config_file=str(tmp_path / "engage.yaml")))
    assert all(proxy.faults[f] > 0 for f in FAULTS), proxy.faults

    # Every record of the platform's files arrived: the test stages its local copies itself.
    local = sorted((small_platform["dir"] / "telemetry").iterdir())
    records = sum(stage_file(f, str(f), i, tmp_path / "staged", IngestOptions()).records for i, f in enumerate(local))
    ingest = manifest["counts"]["ingest"]
    assert ingest["input_records"] == records and ingest["unreadable_sources"] == []
    assert manifest["accounting_problems"] == []

    clips = {c["response_id"]: c["case"] for c in
             pq.read_table(small_platform["dir"] / "truth" / "clips.parquet").to_pylist()}
    rows = read_partition(tmp_path / "out", "responses", date.fromisoformat(manifest["run_date"])).to_pylist()
    assert len({r["response_id"] for r in rows}) == len(rows) == manifest["counts"]["responses"]["responses"]
    planted = [r["audio_status"] in (EXPECTED[clips[r["response_id"]]] if r["response_id"] in clips else {"no_audio"})
               for r in rows]
    failed = [r["audio_status"] == "fetch_failed" for r in rows]
    assert all(p or f for p, f in zip(planted, failed))
    assert sum(planted) / len(rows) > 0.9  # retries recover nearly everything
