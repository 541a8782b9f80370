import pytest

from audio.storage import SourceNotFound, SourceUnreadable, expand_sources, fetch_to_local, parse_gs_uri, storage_client
from features.simulation.publish import ensure_bucket, upload_bytes


def test_parse_gs_uri_rejects_other_schemes():
    assert parse_gs_uri("gs://b/a/b.ogg").key == "a/b.ogg"
    with pytest.raises(ValueError, match="not a gs:// URI"):
        parse_gs_uri("s3://b/k")


def test_sources_expand_prefixes_globs_and_local_paths(tmp_path, gcs_emulator):
    client = storage_client("t")
    ensure_bucket(client, "src")
    for name in ("t/a.ndjson", "t/b.ndjson.gz", "t/sub/c.json", "u/d.ndjson"):
        upload_bytes(client, f"gs://src/{name}", b"{}\n")
    assert expand_sources(["gs://src/t/"], client) == [
        "gs://src/t/a.ndjson", "gs://src/t/b.ndjson.gz", "gs://src/t/sub/c.json"]
    assert expand_sources(["gs://src/t/*.ndjson*"], client) == ["gs://src/t/a.ndjson", "gs://src/t/b.ndjson.gz"]
    (tmp_path / "x.ndjson").write_text("{}\n")
    assert expand_sources([str(tmp_path / "*.ndjson")]) == [str(tmp_path / "x.ndjson")]
    with pytest.raises(SourceNotFound, match="gs://src/nothing/"):
        expand_sources(["gs://src/nothing/"], client)


def test_fetch_streams_an_object_to_disk_with_its_checksums(tmp_path, gcs_emulator):
    client = storage_client("t")
    ensure_bucket(client, "src")
    upload_bytes(client, "gs://src/f.ndjson", b'{"a": 1}\n' * 1000)
    got = fetch_to_local("gs://src/f.ndjson", tmp_path / "f.ndjson", client)
    assert (tmp_path / "f.ndjson").read_bytes() == b'{"a": 1}\n' * 1000
    assert got["md5"] and got["crc32c"] and got["size"] == 9000
    with pytest.raises(SourceUnreadable, match="gs://src/missing: no such object"):
        fetch_to_local("gs://src/missing", tmp_path / "m", client)
