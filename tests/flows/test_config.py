import pytest

from flows.config import ConfigError, load_config


def test_embedded_default_config_is_the_demo():
    config = load_config()
    assert config.telemetry.sources == ["gs://engage-demo/telemetry/"]
    assert config.output.root.endswith(".demo/out")


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("telemetry: {sources: [data/*.ndjson, gs://b/x/]}\nmapping: {curriculum: cur.yaml}\n"
                    "output: {root: out}\n")
    config = load_config(path)
    assert config.telemetry.sources == [str(tmp_path / "data/*.ndjson"), "gs://b/x/"]
    assert config.mapping.curriculum == str(tmp_path / "cur.yaml")
    assert config.output.root == str(tmp_path / "out")


@pytest.mark.parametrize("body, message", [
    ("telemetry: {sources: [a]}\noutput: {root: o}\nbogus: 1\n", r"c.yaml: bogus: Extra inputs .* \(got 1\)"),
    ("telemetry: {sources: [a], naive_timezone: Mars/Base}\noutput: {root: o}\n",
     r"telemetry.naive_timezone: .*unknown time zone 'Mars/Base'"),
    ("telemetry: {sources: [a], max_quarantine_share: 3}\noutput: {root: o}\n",
     r"telemetry.max_quarantine_share: .* \(got 3\)"),
    ("telemetry: {sources: [a], field_map: {user_id: uid}}\noutput: {root: o}\n", r"telemetry.field_map: .*field_map.user_id"),
    ("telemetry: {sources: []}\noutput: {root: o}\n", r"telemetry.sources"),
    ("output: {root: o}\n", r"telemetry: Field required"),
    ("telemetry: [\n", r"cannot read config"),
])
def test_bad_configs_name_file_key_and_value(tmp_path, body, message):
    path = tmp_path / "c.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
