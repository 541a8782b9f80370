import pytest

from features.registry import Registry, RegistryError


def test_versions_are_immutable_and_current_is_a_pointer(tmp_path):
    registry = Registry(tmp_path)
    assert registry.current("model") is None
    first = registry.save("model", {"m.bin": b"one"}, {"metrics": {"auc": 0.7}})
    assert registry.current("model") is None  # saved as a candidate
    registry.promote("model", first.version)
    second = registry.save("model", {"m.bin": b"two"}, {"metrics": {"auc": 0.8}}, promote=True)
    assert registry.current("model").version == second.version != first.version
    assert registry.load("model", first.version).path("m.bin").read_bytes() == b"one"
    assert registry.versions("model") == sorted([first.version, second.version])
    assert registry.current("model").metadata["metrics"] == {"auc": 0.8}
    with pytest.raises(RegistryError, match="is current"):
        registry.remove("model", second.version)
    with pytest.raises(RegistryError, match="no version 'nope'"):
        registry.promote("model", "nope")
    (tmp_path / "model" / first.version / "metadata.json").write_text("{not json")
    with pytest.raises(RegistryError, match="not a readable registry entry"):
        registry.load("model", first.version)


def test_a_run_as_of_a_past_day_gets_the_version_that_was_current_for_that_day(tmp_path):
    from datetime import datetime, timezone

    def day(d):
        return datetime(2026, 12, d, 12, tzinfo=timezone.utc)

    registry = Registry(tmp_path)
    early = registry.save("model", {"m": b"1"}, {"data_through": day(5).isoformat()}, promote=True)
    late = registry.save("model", {"m": b"2"}, {"data_window": {"last": "2026-12-20"}}, promote=True)
    assert registry.current_at("model", day(21)).version == late.version == registry.current("model").version
    assert registry.current_at("model", day(10)).version == early.version  # late saw data after the 10th
    assert registry.current_at("model", day(20)).version == early.version  # a date means the whole day
    assert registry.current_at("model", datetime(2026, 12, 21, tzinfo=timezone.utc)).version == late.version
    assert registry.current_at("model", day(4)) is None  # nothing was trained on data that old
    registry.promote("model", early.version)  # a rollback by hand wins from then on
    assert registry.current_at("model", day(21)).version == early.version
