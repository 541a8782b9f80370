import pytest
import yaml

from audio.fetch import FetchPolicy
from features.ingest import IngestOptions
from flows.config import ConfigError, load_config
from features.simulation.demo import DEMO_CONFIG


def test_sections_are_the_libraries_own_dataclasses_with_their_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inputs: {telemetry: [a.ndjson], curriculum: cur.yaml}\noutput: {root: o}\n"
                    "audio: {fetch: {workers: 3}}\n")
    config = load_config(path)
    assert isinstance(config.ingest, IngestOptions) and config.ingest == IngestOptions()
    assert isinstance(config.audio.fetch, FetchPolicy)
    assert config.audio.fetch == FetchPolicy(workers=3)


def test_the_demo_config_template_is_valid():
    config = load_config(DEMO_CONFIG)
    assert config.inputs.telemetry == ["gs://engage-demo/telemetry/"]
    assert config.audio.fetch.allowed_prefixes == ("gs://engage-demo/audio/",)


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inputs: {telemetry: [data/*.ndjson, gs://b/x/], curriculum: cur.yaml}\n"
                    "output: {root: out}\naudio: {fetch: {allowed_prefixes: [clips/, gs://b/audio/]}}\n")
    config = load_config(path)
    assert config.inputs.telemetry == [str(tmp_path / "data/*.ndjson"), "gs://b/x/"]
    assert config.inputs.curriculum == str(tmp_path / "cur.yaml")
    assert config.output.root == str(tmp_path / "out")
    assert config.audio.fetch.allowed_prefixes == (str(tmp_path / "clips"), "gs://b/audio/")


BASE = "inputs: {telemetry: [a], curriculum: c.yaml}\noutput: {root: o}\n"


@pytest.mark.parametrize("body, message", [
    (BASE + "bogus: 1\n", r"c.yaml: bogus: Extra inputs .* \(got 1\)"),
    (BASE + "ingest: {naive_timezone: Mars/Base}\n", r"c.yaml: ingest: .*unknown time zone 'Mars/Base'"),
    (BASE + "quality: {max_quarantine_share: 3}\n", r"quality.max_quarantine_share: .* \(got 3\)"),
    (BASE + "ingest: {field_map: {user_id: uid}}\n", r"ingest: .*field_map.user_id"),
    (BASE + "audio: {fetch: {workers: 0}}\n", r"audio.fetch.workers: .*greater than or equal to 1 \(got 0\)"),
    (BASE + "audio: {fetch: {retries: 3}}\n", r"audio.fetch.retries: .*\(got 3\)"),
    ("inputs: {telemetry: [], curriculum: c.yaml}\noutput: {root: o}\n", r"inputs.telemetry"),
    ("inputs: {telemetry: [a]}\noutput: {root: o}\n", r"inputs.curriculum: Field required"),
    ("output: {root: o}\n", r"inputs: Field required"),
    ("inputs: [\n", r"cannot read config"),
    (BASE + "runner: {kind: ray}\n", r"runner.kind: Input should be 'threads' or 'dask' \(got 'ray'\)"),
    (BASE + "runner: {kind: dask, workers: 0}\n", r"runner.workers: .*greater than or equal to 1 \(got 0\)"),
])
def test_bad_configs_name_file_key_and_value_on_one_line(tmp_path, body, message):
    path = tmp_path / "c.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path)
    assert "\n" not in str(err.value)


def test_a_bad_nudge_rule_stops_the_run_before_it_starts(tmp_path, capsys):
    from features.simulation.demo import DEMO_NUDGES
    from features.simulation.publish import DEMO_CURRICULUM
    from flows.cli import main

    rules = tmp_path / "rules.yaml"
    rules.write_text(DEMO_NUDGES.read_text().replace("{days_since_last_activity:.0f} days.", "{idle_days} days."))
    path = tmp_path / "c.yaml"
    path.write_text(f"inputs: {{telemetry: [a.ndjson], curriculum: {DEMO_CURRICULUM}}}\noutput: {{root: out}}\n"
                    "nudges: {rules: rules.yaml}\n")
    assert load_config(path).nudges.rules == str(rules)
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "rule 'comeback-at-risk'" in err and "idle_days" in err and len(err.strip().splitlines()) == 1


def test_an_opt_out_attribute_needs_an_attributes_file(tmp_path, capsys):
    from flows.cli import main
    from features.simulation.publish import DEMO_CURRICULUM

    path = tmp_path / "engage.yaml"
    path.write_text(yaml.safe_dump({"inputs": {"telemetry": ["x.ndjson"], "curriculum": str(DEMO_CURRICULUM)},
                                    "output": {"root": "out"}, "nudges": {"opt_out_attribute": "nudges_off"}}))
    assert main(["run", "--config", str(path)]) == 2
    assert "nudges.opt_out_attribute" in capsys.readouterr().err
