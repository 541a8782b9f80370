"""File-level fuzz: any mutation of a valid NDJSON or array file ends as counted records.

Each case stages one mutated file between two clean files and checks, against the test's own
count of the mutated file's lines or items (never the code's): no exception; the file's record
count; ``input = events + duplicates + quarantined`` for the run; every record the mutation did
not touch in ``events``, unchanged; the clean files fully ingested. Seeded; a few hundred cases.
"""

from __future__ import annotations

import gzip
import json
import random
import zlib
from datetime import datetime

import pyarrow.parquet as pq
import pytest

from features.ingest import IngestOptions, finalize_events, stage_file

SEED = 20261122
CASES_PER_KIND = 24
BLANK = b" \t\r"


def records(prefix: str, n: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(n):
        record = {"event_id": f"{prefix}-{i}", "event_type": rng.choice(["app_open", "lesson_start"]),
                  "user_id": f"u{rng.randrange(50)}", "timestamp": f"2026-09-{1 + i % 28:02d}T10:{i % 60:02d}:00+02:00"}
        if rng.random() < 0.5:
            record["device"] = {"os": rng.choice(["ios", "android"]), "v": rng.randrange(9)}
        out.append(record)
    return out


def ndjson(recs: list[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in recs)


def array(recs: list[dict]) -> tuple[bytes, list[int]]:
    """The array's bytes and the offset just after each item's closing brace."""
    data, ends = bytearray(b"["), []
    for k, r in enumerate(recs):
        data += (b",\n " if k else b"") + json.dumps(r).encode()
        ends.append(len(data))
    return bytes(data + b"]\n"), ends


def line_count(data: bytes) -> tuple[int, set[bytes]]:
    """The test's own count of NDJSON records (non-blank lines) and the set of lines as bytes."""
    segments = data.split(b"\n")
    if segments and segments[-1] == b"":
        segments.pop()
    lines = {s.removesuffix(b"\r") for s in segments}
    return sum(1 for s in segments if s.strip(BLANK)), lines


def untouched_ndjson(recs: list[dict], data: bytes) -> list[dict]:
    """Original records whose exact line survives as a line of the mutated data."""
    _, lines = line_count(data)
    return [r for r in recs if json.dumps(r, ensure_ascii=False).encode() in lines]


def gunzip_prefix(data: bytes) -> bytes:
    decomp, out = zlib.decompressobj(wbits=31), b""
    try:
        out = decomp.decompress(data)
    except zlib.error:
        pass
    return out


# Each mutation returns (file name, bytes, expected records, untouched records, reasons the
# file's quarantine must include).
def m_truncate(rng, recs):
    data = ndjson(recs)
    cut = data[:rng.randrange(len(data) + 1)]
    return "t.ndjson", cut, line_count(cut)[0], untouched_ndjson(recs, cut), set()


def m_random_bytes(rng, recs):
    data = bytearray(ndjson(recs))
    for _ in range(rng.randrange(1, 6)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    data = bytes(data)
    return "t.ndjson", data, line_count(data)[0], untouched_ndjson(recs, data), set()


def m_bom(rng, recs):
    data = b"\xef\xbb\xbf" + ndjson(recs)
    return "t.ndjson", data, len(recs), recs, set()


def m_utf16(rng, recs):
    data = ndjson(recs).decode().encode(rng.choice(["utf-16", "utf-16-be", "utf-16-le"]))
    return "t.ndjson", data, line_count(data)[0], [], {"invalid_utf8"}


def m_nul(rng, recs):
    lines = ndjson(recs).split(b"\n")[:-1]
    hit = set(rng.sample(range(len(lines)), rng.randrange(1, 4)))
    lines = [line[:5] + b"\x00" + line[5:] if k in hit else line for k, line in enumerate(lines)]
    data = b"\n".join(lines) + b"\n"
    return "t.ndjson", data, len(recs), [r for k, r in enumerate(recs) if k not in hit], {"invalid_utf8"}


def m_long_line(rng, recs):
    long = dict(recs[0], notes="x" * rng.choice([70_000, 300_000, 3_000_000]))
    broken = json.dumps(dict(recs[1], notes="y" * 100_000))[:-3]
    data = ndjson([long]) + broken.encode() + b"\n" + ndjson(recs[2:])
    return "t.ndjson", data, len(recs), [long] + recs[2:], {"invalid_json"}


def m_deep(rng, recs):
    depth = 10_000
    line = json.dumps(recs[0])[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    data = line.encode() + b"\n" + ndjson(recs[1:])
    return "t.ndjson", data, len(recs), recs[1:], set()


def m_huge_number(rng, recs):
    lines = [json.dumps(recs[0])[:-1] + ', "x": 1e999}', json.dumps(recs[1])[:-1] + ', "response": {"duration_ms": 1e999}}']
    data = "\n".join(lines).encode() + b"\n" + ndjson(recs[2:])
    return "t.ndjson", data, len(recs), recs[2:], {"out_of_range"}


def m_duplicate_keys(rng, recs):
    line = json.dumps(recs[0])[:-1] + f', "event_id": "{recs[0]["event_id"]}-again", "user_id": "zz"}}'
    data = line.encode() + b"\n" + ndjson(recs[1:])
    return "t.ndjson", data, len(recs), recs[1:], set()


def m_lone_surrogate(rng, recs):
    line = json.dumps(recs[0])[:-1] + ', "note": "\\ud800 alone"}'
    data = line.encode() + b"\n" + ndjson(recs[1:])
    return "t.ndjson", data, len(recs), recs[1:], {"invalid_json"}


def m_empty(rng, recs):
    return "t.ndjson", rng.choice([b"", b"\n\n", b"  \n\t\n \r\n", b"   "]), 0, [], set()


def m_gz_truncated(rng, recs):
    data = gzip.compress(ndjson(recs), mtime=0)
    cut = data[:rng.randrange(1, len(data) - 8)]
    prefix = gunzip_prefix(cut)
    complete = prefix[:prefix.rfind(b"\n") + 1]
    reason = "gzip_error" if prefix else "unreadable_file"
    return "t.ndjson.gz", cut, line_count(complete)[0] + 1, untouched_ndjson(recs, complete), {reason}


def m_gz_not_gzip(rng, recs):
    return "t.ndjson.gz", ndjson(recs), 1, [], {"unreadable_file"}


def m_array_truncated(rng, recs):
    data, ends = array(recs)
    cut = rng.randrange(1, len(data) - 2)
    kept = [r for r, end in zip(recs, ends) if end <= cut]
    return "t.json", data[:cut], len(kept) + 1, kept, {"array_syntax_error"}


def m_array_broken_at(rng, recs, item=None):
    data, ends = array(recs)
    k = item if item is not None else rng.randrange(1, len(recs))  # 0-based item that breaks
    start = ends[k - 1] if k else 1
    broken = data[:start] + (b",\n " if k else b"") + b'{"event_id": "oops", "user_id": }' + data[ends[k]:]
    return "t.json", broken, k + 1, recs[:k], {"array_syntax_error"}


def m_array_broken_at_first(rng, recs):
    return m_array_broken_at(rng, recs, 0)


def m_array_bom_gz(rng, recs):
    data, _ = array(recs)
    return "t.json.gz", gzip.compress(b"\xef\xbb\xbf" + data, mtime=0), len(recs), recs, set()


MUTATIONS = [m_truncate, m_random_bytes, m_bom, m_utf16, m_nul, m_long_line, m_deep, m_huge_number,
             m_duplicate_keys, m_lone_surrogate, m_empty, m_gz_truncated, m_gz_not_gzip, m_array_truncated,
             m_array_broken_at, m_array_broken_at_first, m_array_bom_gz]


OPTIONS = IngestOptions(memory_limit_mb=256, threads=1)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Two clean files, staged once: the first and last source of every case's run."""
    folder = tmp_path_factory.mktemp("clean")
    rng = random.Random(SEED)
    files = {"a-first.ndjson": records("a", 30, rng), "z-last.json": records("z", 20, rng)}
    (folder / "a-first.ndjson").write_bytes(ndjson(files["a-first.ndjson"]))
    (folder / "z-last.json").write_bytes(array(files["z-last.json"])[0])
    staged = [stage_file(folder / name, name, i, folder / "staged", OPTIONS) for i, name in ((0, "a-first.ndjson"),
                                                                                         (2, "z-last.json"))]
    return staged, files


def ingest(folder, name, clean_staged):
    mutated = stage_file(folder / name, name, 1, folder / "staged", OPTIONS)
    staged = [clean_staged[0], mutated, clean_staged[1]]
    result = finalize_events(staged, folder / "events.parquet", folder / "q.parquet", OPTIONS)
    return staged, result, pq.read_table(folder / "events.parquet").to_pylist(), pq.read_table(folder / "q.parquet")


def same_event(row: dict, record: dict) -> bool:
    return (row["user_id"], row["event_type"], row["ts"]) == (
        record["user_id"], record["event_type"], datetime.fromisoformat(record["timestamp"]))


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.__name__)
def test_any_mutation_ends_as_counted_records(mutation, clean, tmp_path):
    clean_staged, files = clean
    for case in range(CASES_PER_KIND):
        rng = random.Random(f"{SEED}-{mutation.__name__}-{case}")
        recs = records(f"m{case}", rng.randrange(3, 40), rng)
        name, data, expected, untouched, reasons = mutation(rng, recs)
        name = "m-" + name  # between the two clean files in URI order
        (tmp_path / name).write_bytes(data)
        staged, result, events, quarantine = ingest(tmp_path, name, clean_staged)
        where = f"{mutation.__name__} case {case}"
        assert staged[1].records == expected, where
        assert sum(s.records for s in staged) == result.events + result.duplicates + quarantine.num_rows, where
        by_id = {e["event_id"]: e for e in events}
        for record in untouched:
            assert record["event_id"] in by_id and same_event(by_id[record["event_id"]], record), where
        for clean_name, clean_records in files.items():
            assert all(same_event(by_id[r["event_id"]], r) for r in clean_records), where
        assert set(quarantine["source_file"].to_pylist()) <= {name}, where
        assert reasons <= set(quarantine["reason"].to_pylist()), where
        assert all(len(raw or "") <= 65_536 for raw in quarantine["raw"].to_pylist()), where
        (tmp_path / name).unlink()
