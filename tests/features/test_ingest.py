"""Ingest: every record ends in events, duplicates or quarantine, with the right reason."""

from __future__ import annotations

import gzip
import json

import duckdb
import pyarrow.parquet as pq
import pytest

from features.ingest import IngestOptions, finalize_events, stage_file
from features.telemetry_schema import FieldMap


def ev(event_id, user="u1", ts="2026-09-01T10:00:00+02:00", etype="app_open", **extra):
    return {"event_id": event_id, "event_type": etype, "user_id": user, "timestamp": ts, **extra}


def write_lines(path, lines, gz=False):
    data = ("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def ingest(tmp_path, files, options=IngestOptions()):
    staged = [stage_file(p, p.name, i, tmp_path / "staged", options) for i, p in enumerate(files)]
    result = finalize_events(staged, tmp_path / "events.parquet", tmp_path / "q.parquet", options)
    events = pq.read_table(tmp_path / "events.parquet").to_pylist()
    quarantine = pq.read_table(tmp_path / "q.parquet").to_pylist()
    return staged, result, events, quarantine


def col(rows, name):
    return [r[name] for r in rows]


CASES = [
    ('{"event_id": "x1", "user_id": ', "invalid_json", None),
    ("[1, 2]", "not_an_object", None),
    (ev("x3", user={"id": 1}), "wrong_type", "user_id"),
    ({k: v for k, v in ev("x4").items() if k != "user_id"}, "missing_field", "user_id"),
    (ev("x5", user="  "), "missing_field", "user_id"),
    (ev("x6", ts="yesterday"), "bad_timestamp", "timestamp"),
    (ev("x7", ts=True), "wrong_type", "timestamp"),
    (ev("x8", etype="response_submitted", response={"duration_ms": "3s"}), "wrong_type", "duration_ms"),
    (ev("x9", etype="response_submitted", response={"score": 1.7}), "out_of_range", "score"),
    (ev("x10", etype="response_submitted", response={"attempt": 1.5}), "wrong_type", "attempt"),
    (ev("x11", response="text"), "wrong_type", "response"),
    (ev("x12", ts="1999-12-31T00:00:00Z"), "bad_timestamp", "timestamp"),
]


@pytest.mark.parametrize("record, reason, field", CASES)
def test_each_bad_record_is_quarantined_with_reason_field_and_line(tmp_path, record, reason, field):
    path = write_lines(tmp_path / "t.ndjson", [ev("ok1"), record, ev("ok2")])
    staged, result, events, quarantine = ingest(tmp_path, [path])
    assert col(events, "event_id") == ["ok1", "ok2"]
    assert len(quarantine) == 1
    row = quarantine[0]
    assert (row["reason"], row["field"], row["source_line"], row["source_file"]) == (reason, field, 2, "t.ndjson")
    assert row["raw"] == (record if isinstance(record, str) else json.dumps(record))
    assert staged[0].records == 3 == result.events + result.duplicates + len(quarantine)


def test_times_are_utc_with_offsets_kept_and_naive_times_read_in_configured_zone(tmp_path):
    path = write_lines(tmp_path / "t.ndjson", [
        ev("a", ts="2026-09-01T10:00:00+05:30"), ev("b", ts="2026-09-01T10:00:00-0800"),
        ev("c", ts="2026-09-01T10:00:00Z"), ev("d", ts=1788260400000),
        ev("e", ts="2026-09-01 10:00:00"), ev("f", ts="2026-09-01T10:00:00+05")])
    staged, _, events, _ = ingest(tmp_path, [path], IngestOptions(naive_timezone="America/New_York"))
    by_id = {e["event_id"]: e for e in events}
    assert by_id["a"]["ts"].isoformat() == "2026-09-01T04:30:00+00:00"
    assert by_id["a"]["utc_offset_min"] == 330
    assert by_id["b"]["utc_offset_min"] == -480 and by_id["b"]["ts"].hour == 18
    assert by_id["c"]["utc_offset_min"] == 0
    assert by_id["d"]["ts"].isoformat() == "2026-09-01T11:00:00+00:00" and by_id["d"]["ts_naive"] is False
    assert by_id["d"]["utc_offset_min"] is None
    assert by_id["e"]["ts"].hour == 14 and by_id["e"]["ts_naive"] is True
    assert by_id["f"]["utc_offset_min"] == 300
    assert staged[0].naive_timestamps == 1


def test_duplicates_are_dropped_and_conflicts_quarantined_keeping_the_first(tmp_path):
    first = ev("d1", etype="response_submitted", response={"score": 0.5})
    conflict = ev("d1", etype="response_submitted", response={"score": 0.9})
    a = write_lines(tmp_path / "a.ndjson", [first, ev("k1"), first])
    b = write_lines(tmp_path / "b.ndjson.gz", [conflict, ev("k1")], gz=True)
    staged, result, events, quarantine = ingest(tmp_path, [a, b])
    assert [(e["source_file"], e["source_line"], e["event_id"]) for e in events] == [
        ("a.ndjson", 1, "d1"), ("a.ndjson", 2, "k1")]
    assert {e["event_id"]: e["score"] for e in events}["d1"] == 0.5
    assert (result.duplicates, result.conflicting) == (2, 1)
    row = quarantine[0]
    assert (row["reason"], row["source_file"], row["source_line"]) == ("conflicting_duplicate", "b.ndjson.gz", 1)
    assert json.loads(row["raw"])["response"]["score"] == 0.9


def test_unknown_fields_are_kept_in_extra_and_unknown_types_kept(tmp_path):
    path = write_lines(tmp_path / "t.ndjson", [ev("a", etype="streak_freeze", app="5.1", device={"os": "ios"})])
    _, _, events, _ = ingest(tmp_path, [path])
    assert events[0]["event_type"] == "streak_freeze"
    assert json.loads(events[0]["extra"]) == {"app": "5.1", "device": {"os": "ios"}}


def test_extra_joined_from_a_files_common_keys_equals_the_rebuilt_record(tmp_path):
    """Records whose extra keys are the file's common set take the joined-text path; the others
    are rebuilt. Every one must equal duckdb's json_merge_patch of the line without its known keys."""
    common = [json.dumps(ev(f"c{n}", app_version=f"5.{n}", device={"os": "ios", "model": n})) for n in range(50)]
    odd = [json.dumps(ev("o1", app_version="5.1", device={"os": "ios"}, channel="push")),  # one key more
           json.dumps(ev("o2", device={"os": "ios"}, app_version="5.1")),  # the keys in another order
           json.dumps(ev("o3", app_version=None, device={"os": "ios"})),  # a null value
           json.dumps(ev("o4", app_version="5.1")),  # a key fewer
           json.dumps(ev("o5")),  # no key outside the field map
           '{"event_id":"o6","event_type":"x","user_id":"u","timestamp":"2026-09-01T10:00:00Z",'
           '"app_version":"5.1","app_version":"6.0","device":{ "os" : "é\\u00e9", "n": 1.50 }}',  # duplicate key
           '{"event_id":"o7","event_type":"x","user_id":"u","timestamp":"2026-09-01T10:00:00Z",'
           '"app_version":1e999,"device":[1, {"a":null}]}',  # odd values, common keys
           json.dumps(ev("o8", session_id=None, app_version="5.1", device={"os": "ios"})),  # a known key null
           '{"event_id":"o9","event_type":"x","event_type":"y","user_id":"u","timestamp":"2026-09-01T10:00:00Z",'
           '"app_version":"5.1"}']  # as many keys as the common case, but a known key twice for a common one
    path = write_lines(tmp_path / "t.ndjson", common + odd)
    _, _, events, quarantine = ingest(tmp_path, [path])
    assert not quarantine and len(events) == len(common) + len(odd)
    known = "{" + ",".join(f'"{k}":null' for k in FieldMap.with_overrides({}).top_level_keys()) + "}"
    con = duckdb.connect()
    for line, event in zip(common + odd, events):
        rebuilt = con.execute("SELECT nullif(json_merge_patch(?, ?)::VARCHAR, '{}')", [line, known]).fetchone()[0]
        assert event["extra"] == rebuilt, event["event_id"]
    assert json.loads(events[0]["extra"]) == {"app_version": "5.0", "device": {"os": "ios", "model": 0}}
    assert events[len(common) + 4]["extra"] is None


def test_platform_field_names_map_through_config(tmp_path):
    path = write_lines(tmp_path / "t.ndjson", [{"id": "a", "kind": "app_open", "learner": {"uid": "L7"},
                                                "at": "2026-09-01T10:00:00Z", "lvl": "B1"}])
    fmap = {"event_id": "$.id", "event_type": "$.kind", "user_id": "$.learner.uid", "timestamp": "$.at", "level": "$.lvl"}
    _, _, events, quarantine = ingest(tmp_path, [path], IngestOptions(field_map=fmap))
    assert len(quarantine) == 0
    assert (events[0]["user_id"], events[0]["level"], events[0]["extra"]) == ("L7", "B1", None)


def test_bad_field_map_paths_are_refused_with_the_field_named():
    with pytest.raises(ValueError, match="field_map.user_id"):
        FieldMap.with_overrides({"user_id": "uid"})
    with pytest.raises(ValueError, match="unknown canonical"):
        FieldMap.with_overrides({"uid": "$.uid"})


def test_json_array_files_and_a_broken_array_tail(tmp_path):
    items = [ev("a"), 3, None, ev("b")]  # a null item is a record that is not an object, not a blank
    good = tmp_path / "good.json.gz"
    good.write_bytes(gzip.compress(json.dumps(items).encode()))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([ev("c"), ev("d")])[:-40] + ', {"oops": }]')
    staged, result, events, quarantine = ingest(tmp_path, [good, broken])
    assert staged[0].format == "array" and (staged[0].records, staged[0].blank_lines) == (4, 0)
    assert sorted(col(events, "event_id")) == ["a", "b", "c"]
    reasons = {(q["source_file"], q["source_line"]): q["reason"] for q in quarantine}
    assert reasons == {("good.json.gz", 2): "not_an_object", ("good.json.gz", 3): "not_an_object",
                       ("broken.json", 2): "array_syntax_error"}


def test_any_bytes_are_read_with_exact_line_numbers(tmp_path):
    path = tmp_path / "t.ndjson"
    path.write_bytes(b"\n".join([json.dumps(ev("a")).encode(), b'{"event_id": "\xff\xfe"}', b"",
                                 json.dumps(ev("b")).encode() + b"\r", json.dumps(ev("c")).encode()]))
    staged, _, events, quarantine = ingest(tmp_path, [path])
    assert col(events, "source_line") == [1, 4, 5]
    assert staged[0].blank_lines == 1
    assert (quarantine[0]["reason"], quarantine[0]["source_line"]) == ("invalid_utf8", 2)


def test_blank_lines_are_counted_not_records(tmp_path):
    path = write_lines(tmp_path / "t.ndjson", [ev("a"), "", "   ", ev("b")])
    staged, _, events, _ = ingest(tmp_path, [path])
    assert (staged[0].records, staged[0].blank_lines) == (2, 2)
    assert col(events, "source_line") == [1, 4]


def test_at_scale_events_keep_input_order_and_bad_lines_their_numbers(tmp_path):
    """250k lines over several row groups and threads: duplicates removed without losing input
    order, quarantined lines found at the line numbers where they were planted."""
    lines, bad, dup_of = [], {}, {}
    for n in range(1, 250_001):
        if n % 9973 == 0:
            lines.append('{"event_id": "broken", ')
            bad[n] = "invalid_json"
        elif n % 7919 == 0:
            lines.append(json.dumps(ev(f"e{n - 7}")))  # an exact duplicate of line n - 7
            dup_of[n] = n - 7
        elif n % 12007 == 0:
            lines.append(json.dumps(ev(f"e{n - 3}", user="other")))  # same id, other payload
            bad[n] = "conflicting_duplicate"
        else:
            lines.append(json.dumps(ev(f"e{n}")))
    path = write_lines(tmp_path / "big.ndjson", lines)
    staged, result, events, quarantine = ingest(tmp_path, [path], IngestOptions(threads=2))
    assert staged[0].reader == "duckdb"
    assert {(q["source_line"], q["reason"]) for q in quarantine} == set(bad.items())
    order = col(events, "source_line")
    assert order == sorted(order) and len(order) == 250_000 - len(bad) - len(dup_of)
    assert result.duplicates == len(dup_of)
