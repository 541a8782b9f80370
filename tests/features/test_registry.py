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
