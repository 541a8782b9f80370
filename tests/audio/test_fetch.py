"""Fetching audio from the emulator bucket: concurrency, cache, retries, checksums, refusals."""

from __future__ import annotations

import os

import pytest

from audio.fetch import AudioCache, FetchPolicy, fetch_audio, refusal
from audio.storage import storage_client
from features.simulation.publish import ensure_bucket, upload_bytes
from tests.audio.fault_proxy import FaultProxy

BUCKET = "fetch-test"
POLICY = FetchPolicy(allowed_prefixes=(f"gs://{BUCKET}/audio/",), workers=6, retry_deadline_s=20,
                     initial_backoff_s=0.01, max_backoff_s=0.1)


@pytest.fixture(scope="module")
def objects(gcs_emulator):
    client = storage_client("t")
    ensure_bucket(client, BUCKET)
    uris = {}
    for i in range(12):
        uri = f"gs://{BUCKET}/audio/u{i % 3}/r{i}.ogg"
        upload_bytes(client, uri, os.urandom(2000 + i))
        uris[f"r{i}"] = (f"u{i % 3}", uri)
    return uris


@pytest.fixture
def proxy(gcs_emulator, monkeypatch):
    with FaultProxy(gcs_emulator.host) as p:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", p.host)
        yield p


def items(objects):
    return [(rid, user, uri) for rid, (user, uri) in objects.items()]


def test_concurrent_fetch_then_a_rerun_downloads_nothing(tmp_path, objects, proxy):
    cache = AudioCache(tmp_path / "cache")
    first = fetch_audio(items(objects), POLICY, cache, storage_client("t"))
    assert [r.status for r in first] == ["ok"] * 12 and all(r.downloaded for r in first)
    assert proxy.max_in_flight > 1
    media = [p for p in proxy.requests if "alt=media" in p]
    again = fetch_audio(items(objects), POLICY, cache, storage_client("t"))
    assert [r.status for r in again] == ["ok"] * 12
    assert not any(r.downloaded for r in again)
    assert [p for p in proxy.requests if "alt=media" in p] == media  # no new download
    assert [open(r.path, "rb").read() for r in again] == [open(r.path, "rb").read() for r in first]


def test_transient_503s_are_retried_until_success(tmp_path, objects, proxy):
    proxy.fail_503["r1.ogg"] = 3
    (result,) = fetch_audio([("r1", "u1", objects["r1"][1])], POLICY, AudioCache(tmp_path), storage_client("t"))
    assert result.status == "ok"
    assert proxy.fail_503["r1.ogg"] == 0


def test_503s_outlasting_the_retry_deadline_give_fetch_failed(tmp_path, objects, proxy):
    proxy.fail_503["r2.ogg"] = 10_000
    policy = FetchPolicy(allowed_prefixes=POLICY.allowed_prefixes, retry_deadline_s=0.5,
                         initial_backoff_s=0.01, max_backoff_s=0.05)
    (result,) = fetch_audio([("r2", "u2", objects["r2"][1])], policy, AudioCache(tmp_path), storage_client("t"))
    assert result.status == "fetch_failed"


def test_checksum_mismatch_is_caught(tmp_path, objects, proxy):
    proxy.corrupt.add("r3.ogg")
    (result,) = fetch_audio([("r3", "u0", objects["r3"][1])], POLICY, AudioCache(tmp_path), storage_client("t"))
    assert (result.status, result.path) == ("fetch_failed", None)
    assert "checksum mismatch" in result.detail


def test_missing_objects_refused_uris_and_no_audio(tmp_path, objects, gcs_emulator):
    got = fetch_audio([
        ("a", "u", f"gs://{BUCKET}/audio/u0/none.ogg"),
        ("b", "u", f"gs://{BUCKET}/audio/../secrets/key.json"),
        ("c", "u", f"gs://{BUCKET}/audio/%2e%2e/x.ogg"),
        ("d", "u", "gs://other-bucket/audio/x.ogg"),
        ("e", "u", "http://example.com/x.ogg"),
        ("f", "u", None),
    ], POLICY, AudioCache(tmp_path), storage_client("t"))
    assert [r.status for r in got] == ["missing", "refused", "refused", "refused", "refused", "no_audio"]
    assert "traversal" in got[1].detail and "outside" in got[3].detail


def test_refusal_rules():
    allowed = ("gs://b/audio/", "/srv/audio/")
    assert refusal("gs://b/audio/u/x.ogg", allowed) is None
    assert refusal("/srv/audio/u/x.ogg", allowed) is None
    assert refusal("/srv/audio/../etc/passwd", allowed) == "path traversal or empty segment"
    assert refusal("gs://b/audio//x.ogg", allowed) == "path traversal or empty segment"
    assert refusal("gs://b/audio/x\\..\\y", allowed) == "control character or backslash in URI"
    assert refusal("gs://b/audiox/y.ogg", allowed) == "outside the allowed buckets and prefixes"


def test_cache_is_bounded_and_purgeable_per_learner(tmp_path):
    cache = AudioCache(tmp_path, max_bytes=2500)
    cache.put("gs://b/a1", "alice", 1, "c1", "m1", b"x" * 1000)
    cache.put("gs://b/b1", "bob", 1, "c2", "m2", b"y" * 1000)
    cache.get("gs://b/a1", 1, "c1", "m1")  # alice's file is now the most recently used
    cache.put("gs://b/b2", "bob", 1, "c3", "m3", b"z" * 1000)
    assert cache.size_bytes() <= 2500
    assert cache.get("gs://b/b1", 1, "c2", "m2") is None  # least recently used went
    assert cache.get("gs://b/a1", 1, "c1", "m1") is not None
    assert cache.get("gs://b/a1", 2, "c1", "m1") is None  # a new generation is a miss
    assert cache.purge_user("alice") == 1
    assert cache.get("gs://b/a1", 1, "c1", "m1") is None
    assert cache.get("gs://b/b2", 1, "c3", "m3") is not None


def test_refusal_applies_inside_listed_folders(tmp_path, objects, gcs_emulator):
    folder = [(rid, user, uri) for rid, (user, uri) in objects.items() if user == "u0"]
    assert len(folder) >= 3  # enough for the folder to be listed in one request
    bad = ("bad", "u0", f"gs://{BUCKET}/audio/u0/r0.ogg\n")
    got = fetch_audio(folder + [bad], POLICY, AudioCache(tmp_path), storage_client("t"))
    assert [r.status for r in got] == ["ok"] * len(folder) + ["refused"]
