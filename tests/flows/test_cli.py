"""The CLI turns every EngageError into exit code 2 and one line naming the file and problem."""

from __future__ import annotations

import pytest
import yaml

from features.simulation.publish import DEMO_CURRICULUM
from flows.cli import main


def config_file(tmp_path, **extra):
    (tmp_path / "t.ndjson").write_text("{}\n")
    doc = {"inputs": {"telemetry": [str(tmp_path / "t.ndjson")], "curriculum": str(DEMO_CURRICULUM)},
           "output": {"root": str(tmp_path / "out")}, **extra}
    path = tmp_path / "engage.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def fails_with_one_line(capsys, argv, *fragments):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err
    assert "Traceback" not in err


def test_bad_config(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("inputs: {telemetry: [a], curriculum: c.yaml}\noutput: {root: o}\naudio: {fetch: {workers: 0}}\n")
    fails_with_one_line(capsys, ["run", "--config", str(path)], str(path), "audio.fetch.workers", "got 0")


def test_missing_config_file(tmp_path, capsys):
    fails_with_one_line(capsys, ["run", "--config", str(tmp_path / "none.yaml")], "none.yaml", "cannot read config")


def test_bad_curriculum(tmp_path, capsys):
    curriculum = tmp_path / "cur.yaml"
    curriculum.write_text("courses: {en: {language: en, phases: [a], levels: {A1: {milestones: "
                          "[{id: m1, phase: b, lessons: [l1]}]}}}}\n")
    path = config_file(tmp_path, inputs={"telemetry": ["t.ndjson"], "curriculum": str(curriculum)})
    fails_with_one_line(capsys, ["run", "--config", str(path)], str(curriculum),
                        "courses.en.levels.A1.milestones[0].phase", "'b' is not one of ['a']")


def test_missing_head_file(tmp_path, capsys):
    path = config_file(tmp_path, heads={"fluency": str(tmp_path / "heads" / "fluency-head-v1.joblib")})
    fails_with_one_line(capsys, ["run", "--config", str(path)], "fluency-head-v1.joblib", "no such head file")


def test_a_file_that_is_not_a_head(tmp_path, capsys):
    (tmp_path / "fake.joblib").write_bytes(b"not a pickle")
    path = config_file(tmp_path, heads={"emotion": str(tmp_path / "fake.joblib")})
    fails_with_one_line(capsys, ["run", "--config", str(path)], "fake.joblib", "not an engage")


def test_manifest_csv_without_its_columns(tmp_path, capsys):
    csv = tmp_path / "m.csv"
    csv.write_text("path,who,feeling\na.wav,s1,happy\n")
    fails_with_one_line(capsys, ["evaluate", "emotion", "--cv", str(csv)], str(csv), "no column 'file'",
                        "columns: path, who, feeling")


def test_run_without_a_config_is_refused_not_the_demo(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run"])
    assert exit_.value.code == 2
    assert "--config" in capsys.readouterr().err
