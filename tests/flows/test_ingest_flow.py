"""A run over several sources of which one is garbage or cannot be read at all."""

from __future__ import annotations

import gzip
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


BAD_KINDS = ("invalid_json", "invalid_utf8", "not_an_object", "missing_field", "wrong_type", "bad_timestamp",
             "out_of_range", "conflicting_duplicate")


def bad_record(kind: str, i: int, rng: random.Random) -> bytes:
    """One malformed record of ``kind`` (the quarantine reason it must get), as a line."""
    good = {"event_id": f"bad{i}", "event_type": "app_open", "user_id": f"u{i % 2000}",
            "timestamp": f"2026-09-{1 + i % 28:02d}T11:00:00Z"}
    if kind == "invalid_json":
        text = json.dumps(good)
        return text[: rng.randrange(5, len(text) - 1)].encode()
    if kind == "invalid_utf8":
        return json.dumps({**good, "user_id": "u\udcff"}).encode().replace(b"\\udcff", b"\xff\xfe")
    if kind == "not_an_object":
        return rng.choice([b"42", b'"text"', b"[1, 2]", b"null"])
    if kind == "missing_field":
        good.pop(rng.choice(["user_id", "event_type", "timestamp"]))
    elif kind == "wrong_type":
        good["user_id"] = {"id": good["user_id"]}
    elif kind == "bad_timestamp":
        good["timestamp"] = rng.choice(["yesterday", "2026-13-45T99:00:00Z", "31/02/2026"])
    elif kind == "out_of_range":
        good["response"] = {"prompt_id": "p1", "score": 7.5}
    elif kind == "conflicting_duplicate":
        good = {"event_id": f"g{i}", "event_type": "lesson_start", "user_id": "someone-else",
                "timestamp": "2026-09-02T10:00:00Z"}  # the id of a good record in the first file
    return json.dumps(good).encode()


def test_bad_telemetry_at_volume_is_all_quarantined_and_fails_the_run_after_writing_every_table(tmp_path,
                                                                                                 prefect_harness,
                                                                                                 capsys):
    from flows.cli import main
    from outputs.tables import TABLES, partition_dir

    rng = random.Random(12)
    good = [json.dumps({"event_id": f"g{i}", "event_type": rng.choice(["app_open", "session_start"]),
                        "user_id": f"u{i % 2000}", "timestamp": f"2026-09-{1 + i % 28:02d}T10:{i % 60:02d}:00+02:00"}
                       ).encode() for i in range(100_000)]
    planted = {kind: 1250 for kind in BAD_KINDS}
    bad = [(kind, bad_record(kind, n * 10 + k, rng)) for k, kind in enumerate(BAD_KINDS) for n in range(planted[kind])]
    rng.shuffle(bad)
    src = tmp_path / "src"
    src.mkdir()
    # Four files: 1 and 3 NDJSON, 2 gzip NDJSON, 4 a JSON array; conflicting duplicates come after
    # the first file, which holds their originals; text-level damage only in NDJSON lines.
    parts = {name: [] for name in ("f1.ndjson", "f2.ndjson.gz", "f3.ndjson", "f4.json")}
    for n, line in enumerate(good):
        parts[list(parts)[n * 4 // len(good)]].append(line)
    for n, (kind, line) in enumerate(bad):
        name = ("f2.ndjson.gz", "f3.ndjson") [n % 2] if kind in ("invalid_json", "invalid_utf8", "conflicting_duplicate") \
            else list(parts)[1 + n % 3]
        parts[name].insert(rng.randrange(len(parts[name]) + 1), line)
    for name, lines in parts.items():
        data = b"[" + b",\n".join(lines) + b"]\n" if name.endswith(".json") else b"\n".join(lines) + b"\n"
        (src / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    config = {"inputs": {"telemetry": [str(src / "f*")], "curriculum": str(DEMO_CURRICULUM)},
              "output": {"root": str(tmp_path / "out")}, "audio": {"enabled": False}}
    (tmp_path / "engage.yaml").write_text(yaml.safe_dump(config))

    assert main(["run", "--config", str(tmp_path / "engage.yaml")]) == 2
    assert "quarantined" in capsys.readouterr().err  # 9.1% passes the default 5% limit
    (manifest_dir,) = (tmp_path / "out" / "manifest").iterdir()
    manifest = json.loads((manifest_dir / "manifest.json").read_text())
    ingest = manifest["counts"]["ingest"]
    assert ingest["input_records"] == 110_000 and ingest["events"] == 100_000 and ingest["quarantined"] == 10_000
    assert ingest["quarantined_by_reason"] == planted and manifest["accounting_problems"] == []
    run_date = date.fromisoformat(manifest["run_date"])
    assert {t for t in TABLES if partition_dir(tmp_path / "out", t, run_date).is_dir()} == set(TABLES)
    quarantine = read_partition(tmp_path / "out", "quarantine", run_date).to_pandas()
    assert quarantine["raw"].notna().all() and quarantine["source_line"].notna().all()
    assert sorted(read_partition(tmp_path / "out", "events", run_date)["event_id"].to_pylist()) == \
        sorted(f"g{i}" for i in range(100_000))
