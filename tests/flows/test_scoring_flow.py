"""Scores, groups, learners and findings from a run; `engage fit-scoring` promotes a reference
that the next run scores with."""

from __future__ import annotations

import json
from datetime import date

import pytest
import yaml

from features.registry import Registry
from features.scoring.components import COMPONENT_NAMES
from features.simulation.publish import DEMO_CURRICULUM
from flows.cli import main
from flows.config import RunParameters
from flows.engagement import engagement_pipeline
from outputs.tables import read_partition

pytestmark = pytest.mark.slow


def test_run_fit_scoring_run_again(tmp_path, prefect_harness, small_platform):
    config = {"inputs": {"telemetry": [f"gs://{small_platform['bucket']}/telemetry/"], "curriculum": str(DEMO_CURRICULUM)},
              "storage": {"project": "engage-test"}, "output": {"root": str(tmp_path / "out")},
              "audio": {"enabled": False}}
    (tmp_path / "engage.yaml").write_text(yaml.safe_dump(config))
    first = engagement_pipeline(RunParameters(config_file=str(tmp_path / "engage.yaml")))
    assert first["models"]["scoring_reference"]["source"] == "fitted_for_this_run"
    run_date = date.fromisoformat(first["run_date"])
    scores = read_partition(tmp_path / "out", "phase_scores", run_date).to_pandas()
    activity = read_partition(tmp_path / "out", "phase_activity", run_date).to_pandas()
    assert len(scores) == len(activity) and set(COMPONENT_NAMES) <= set(scores.columns)
    assert scores["engagement_score"].between(0, 100).all() and scores["band"].isin(["low", "medium", "high"]).all()
    assert (scores["coverage"] < 1).all()  # audio off: the voice components' weight had no data
    learners = read_partition(tmp_path / "out", "learners", run_date).to_pandas()
    assert len(learners) == activity[["user_id", "course_id"]].drop_duplicates().shape[0]
    groups = read_partition(tmp_path / "out", "groups", run_date).to_pandas()
    assert set(learners["group_id"]) == set(groups["group_id"]) and groups["size"].sum() == len(learners)
    assert all(json.loads(c) for c in groups["centroid"])
    insights = read_partition(tmp_path / "out", "insights", run_date).to_pandas()
    assert insights["statement"].str.contains(r"\d").all() and len(insights) >= 2

    assert main(["fit-scoring", "--config", str(tmp_path / "engage.yaml")]) == 0
    current = Registry(tmp_path / "out" / "_registry").current("scoring-reference")
    second = engagement_pipeline(RunParameters(config_file=str(tmp_path / "engage.yaml")))
    assert second["models"]["scoring_reference"] == {"version": current.version, "source": "current",
                                                     "data_window": current.metadata["data_window"]}
    again = read_partition(tmp_path / "out", "phase_scores", run_date).to_pandas()
    assert again["engagement_score"].equals(scores["engagement_score"])  # same data, same reference quantiles
