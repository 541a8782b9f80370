"""Planted secrets never reach an output: a service-account key file named by
GOOGLE_APPLICATION_CREDENTIALS, a token in the environment, and credentials in a gs:// URI's
query and user part. Every file under the output root (Parquet text values and raw bytes), every
Prefect artifact, log and flow-run parameter is searched."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from features.simulation.publish import DEMO_CURRICULUM
from flows.cli import main

pytestmark = pytest.mark.slow
KEY_SECRET, KEY_ID = "MIIEvQFAKEPRIVATEKEYFORENGAGETESTS", "9f8e7d6c5b4a39281706fakekeyid"
ENV_TOKEN, URI_TOKEN, URI_PASSWORD = "ya29.fake-env-token-31337", "ya29.fake-uri-token-4242", "hunter2-uri-password"
SECRETS = (KEY_SECRET, KEY_ID, ENV_TOKEN, URI_TOKEN, URI_PASSWORD)


def found_in(root, secrets) -> list[tuple[str, str]]:
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            texts = [c for c in table.columns if pa.types.is_string(c.type)]
            hits += [(str(path), s) for s in secrets if any(pc.any(pc.match_substring(c, s)).as_py() for c in texts)]
        else:
            data = path.read_bytes()
            hits += [(str(path), s) for s in secrets if s.encode() in data]
    return hits


def test_planted_secrets_appear_in_no_output(tmp_path, prefect_harness, small_platform, monkeypatch, capsys, caplog):
    from prefect.client.orchestration import get_client

    key = tmp_path / "service-account.json"
    key.write_text(json.dumps({"type": "service_account", "project_id": "engage-test", "private_key_id": KEY_ID,
                               "private_key": f"-----BEGIN PRIVATE KEY-----\n{KEY_SECRET}\n-----END PRIVATE KEY-----\n",
                               "client_email": "engage@engage-test.iam.gserviceaccount.com"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", ENV_TOKEN)
    bucket = small_platform["bucket"]
    config = {"inputs": {"telemetry": [f"gs://{bucket}/telemetry/?access_token={URI_TOKEN}"],
                         "curriculum": str(DEMO_CURRICULUM),
                         "attributes": f"gs://reader:{URI_PASSWORD}@{bucket}/attributes/learners.csv"},
              "storage": {"project": "engage-test"}, "output": {"root": str(tmp_path / "out")},
              "audio": {"enabled": False}}
    (tmp_path / "engage.yaml").write_text(yaml.safe_dump(config))

    assert main(["run", "--config", str(tmp_path / "engage.yaml")]) == 0
    printed = capsys.readouterr()
    logged = printed.out + printed.err + caplog.text
    manifest = json.loads(next((tmp_path / "out" / "manifest").rglob("manifest.json")).read_text())
    assert manifest["counts"]["ingest"]["events"] > 0 and manifest["counts"]["attributes"]["kept"] == 40
    assert re.search(r"credentials in gs:// URIs are ignored", logged)
    assert not [s for s in SECRETS if s in logged]
    assert found_in(tmp_path / "out", SECRETS) == []
    with get_client(sync_client=True) as client:
        texts = ([str(a.data) for a in client.read_artifacts()] + [log.message for log in client.read_logs()]
                 + [json.dumps(run.parameters, default=str) for run in client.read_flow_runs()])
    assert texts and not [s for s in SECRETS if any(s in t for t in texts)]
