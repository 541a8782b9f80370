"""Nudges from a run: tables, the JSONL for a messaging system, the state read from the run date
before, identical nudges on a rerun, effects once a window has passed, and `engage nudges
--learner`."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from features.simulation.demo import DEMO_NUDGES
from features.simulation.publish import DEMO_CURRICULUM
from flows.cli import main
from flows.config import RunParameters
from flows.engagement import engagement_pipeline
from outputs.tables import read_partition

pytestmark = pytest.mark.slow


def test_nudges_published_carried_to_the_next_run_date_and_identical_on_a_rerun(tmp_path, prefect_harness,
                                                                                 small_platform, capsys):
    config = {"inputs": {"telemetry": [f"gs://{small_platform['bucket']}/telemetry/"], "curriculum": str(DEMO_CURRICULUM)},
              "storage": {"project": "engage-test"}, "output": {"root": str(tmp_path / "out")},
              "audio": {"enabled": False}, "nudges": {"rules": str(DEMO_NUDGES), "holdout_share": 0.2}}
    (tmp_path / "engage.yaml").write_text(yaml.safe_dump(config))
    first = engagement_pipeline(RunParameters(config_file=str(tmp_path / "engage.yaml")))
    day = date.fromisoformat(first["run_date"])
    nudges = read_partition(tmp_path / "out", "nudges", day).to_pandas()
    assignments = read_partition(tmp_path / "out", "nudge_assignments", day).to_pandas()
    assert len(nudges) == first["counts"]["nudges"]["nudges"] > 0
    assert nudges.groupby("user_id").size().max() <= 3 and nudges["nudge_id"].is_unique
    assert set(assignments.loc[assignments["arm"] == "held_out", "user_id"]).isdisjoint(nudges["user_id"])
    lines = [json.loads(x) for x in Path(first["tables"]["nudges_jsonl"]).read_text().splitlines()]
    assert [x["nudge_id"] for x in lines] == nudges["nudge_id"].tolist()
    assert set(lines[0]) == {"nudge_id", "user_id", "type", "channel", "title", "body", "action", "priority", "reason",
                             "source", "send_after", "expires_at"}
    assert first["counts"]["nudges"]["state_from"] is None

    as_of = pd.Timestamp(first["as_of"]).to_pydatetime() + timedelta(hours=12)
    second = engagement_pipeline(RunParameters(config_file=str(tmp_path / "engage.yaml"), as_of=as_of,
                                               run_date=day + timedelta(days=1)))
    assert second["counts"]["nudges"]["state_from"] == f"run_date={day}"
    assert second["counts"]["nudges"]["not_sent_by_reason"].get("cooldown", 0) > 0
    again = read_partition(tmp_path / "out", "nudges", day + timedelta(days=1)).to_pandas()
    rerun = engagement_pipeline(RunParameters(config_file=str(tmp_path / "engage.yaml"), as_of=as_of,
                                              run_date=day + timedelta(days=1)))
    assert rerun["counts"]["nudges"] == second["counts"]["nudges"]
    pd.testing.assert_frame_equal(read_partition(tmp_path / "out", "nudges", day + timedelta(days=1)).to_pandas(), again)

    later = engagement_pipeline(RunParameters(config_file=str(tmp_path / "engage.yaml"), as_of=as_of + timedelta(days=8),
                                              run_date=day + timedelta(days=9)))
    effects = read_partition(tmp_path / "out", "nudge_effects", day + timedelta(days=9)).to_pandas()
    overall = effects[effects["scope"] == "overall"].iloc[0]
    both = [read_partition(tmp_path / "out", "nudge_assignments", d).to_pandas() for d in (day, day + timedelta(days=1))]
    assert overall["treated"] + overall["held_out"] == sum(b["user_id"].nunique() for b in both)
    assert later["counts"]["nudges"]["effects_rows"] == len(effects)
    assert set(effects.loc[effects["scope"] == "type", "type"]) == set(pd.concat(both)["type"])

    learner = nudges["user_id"].iloc[0]
    capsys.readouterr()
    assert main(["nudges", "--config", str(tmp_path / "engage.yaml"), "--learner", learner,
                 "--run-date", str(day)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{learner}: ") and "why: " in out and nudges.loc[nudges["user_id"] == learner, "reason"].iloc[0] in out
