"""A run over several sources of which one is garbage or cannot be read at all."""

from __future__ import annotations

import json
import os
import random
from datetime import date

import pytest
import yaml

from features.simulation.publish import DEMO_CURRICULUM
from flows.config import RunParameters
from flows.engagement import engagement_pipeline
from outputs.quality import QualityGateError
from outputs.tables import read_partition

pytestmark = pytest.mark.slow


def good_file(path, prefix, n):
    path.write_text("".join(json.dumps({"event_id": f"{prefix}{i}", "event_type": "app_open", "user_id": f"u{i % 7}",
                                        "timestamp": f"2026-09-0{1 + i % 5}T10:00:00Z"}) + "\n" for i in range(n)))


def run(tmp_path, garbage_lines, on_unreadable="fail", broken_link=False):
    src = tmp_path / "src"
    src.mkdir()
    good_file(src / "a.ndjson", "a", 400)
    rng = random.Random(7)
    (src / "b.ndjson").write_bytes(b"\n".join(bytes(rng.randrange(1, 256) for _ in range(40)).replace(b"\n", b" ")
                                              for _ in range(garbage_lines)))
    good_file(src / "c.ndjson", "c", 400)
    if broken_link:
        os.symlink(src / "gone.ndjson", src / "d.ndjson")
    config = {"inputs": {"telemetry": [str(src / "*.ndjson")], "curriculum": str(DEMO_CURRICULUM)},
              "output": {"root": str(tmp_path / "out")}, "audio": {"enabled": False},
              "quality": {"on_unreadable_source": on_unreadable}}
    (tmp_path / "engage.yaml").write_text(yaml.safe_dump(config))
    return engagement_pipeline(RunParameters(config_file=str(tmp_path / "engage.yaml")))


def test_a_garbage_source_is_quarantined_and_the_others_fully_ingested(tmp_path, prefect_harness):
    manifest = run(tmp_path, garbage_lines=20)
    ingest = manifest["counts"]["ingest"]
    assert ingest["input_records"] == 820 and ingest["quarantined"] == 20 and ingest["events"] == 800
    assert manifest["accounting_problems"] == []
    events = read_partition(tmp_path / "out", "events", date.fromisoformat(manifest["run_date"]))
    assert sorted(set(e[0] for e in events["event_id"].to_pylist())) == ["a", "c"]
    assert {i["uri"].rsplit("/", 1)[1] for i in manifest["inputs"]} == {"a.ndjson", "b.ndjson", "c.ndjson"}


def test_too_much_garbage_fails_the_run_after_writing_every_table(tmp_path, prefect_harness):
    with pytest.raises(QualityGateError, match="quarantined"):
        run(tmp_path, garbage_lines=100)
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"events", "quarantine", "phase_activity", "manifest"}


@pytest.mark.parametrize("policy", ["fail", "skip"])
def test_an_unreadable_source_is_listed_and_fails_the_run_unless_skipped(tmp_path, prefect_harness, policy):
    if policy == "fail":
        with pytest.raises(QualityGateError, match="1 source.* could not be read.*d.ndjson"):
            run(tmp_path, garbage_lines=1, on_unreadable=policy, broken_link=True)
        manifest = json.loads(next((tmp_path / "out" / "manifest").rglob("manifest.json")).read_text())
    else:
        manifest = run(tmp_path, garbage_lines=1, on_unreadable=policy, broken_link=True)
    (unreadable,) = manifest["counts"]["ingest"]["unreadable_sources"]
    assert unreadable["uri"].endswith("d.ndjson") and "No such file" in unreadable["unreadable"]
    assert manifest["counts"]["ingest"]["events"] == 800
