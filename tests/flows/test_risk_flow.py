"""Dropout risk end to end: a run without a model goes on with a status; `engage train-risk`
trains and promotes; the next run scores risk; a model below its gate is saved, not promoted,
and the daily run keeps the previous one."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
import yaml

from features.registry import Registry
from features.risk.model import RISK_KIND
from features.simulation.publish import DEMO_CURRICULUM
from flows.cli import main
from flows.config import RunParameters
from flows.engagement import engagement_pipeline
from outputs.tables import read_partition

pytestmark = pytest.mark.slow
SMALL = {"snapshot_every_days": 1, "min_positives": 3, "refits": 2, "max_iter": 40, "min_auc": 0.0, "max_spread": 1.0}
# 40 learners over 12 weeks are too few for a good model: these gates let the flow be checked;
# the model's quality is measured in benchmarks/risk_validity.py.


def _config(tmp_path, platform, name: str, risk: dict) -> str:
    config = {"inputs": {"telemetry": [f"gs://{platform['bucket']}/telemetry/"], "curriculum": str(DEMO_CURRICULUM)},
              "storage": {"project": "engage-test"}, "output": {"root": str(tmp_path / "out")},
              "audio": {"enabled": False}, "risk": risk}
    (tmp_path / name).write_text(yaml.safe_dump(config))
    return str(tmp_path / name)


def test_no_model_then_train_then_scored_and_a_failed_gate_keeps_the_current_model(tmp_path, prefect_harness,
                                                                                  small_platform, capsys):
    config = _config(tmp_path, small_platform, "engage.yaml", SMALL)
    first = engagement_pipeline(RunParameters(config_file=config))
    run_date = date.fromisoformat(first["run_date"])
    assert first["models"]["risk_model"]["status"] == "no_model"
    learners = read_partition(tmp_path / "out", "learners", run_date).to_pandas()
    assert (learners["risk_status"] == "no_model").all() and learners["risk_probability"].isna().all()

    assert main(["train-risk", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "promoted=True" in out.splitlines()[-1] and "auc=" in out.splitlines()[-1]
    registry = Registry(tmp_path / "out" / "_registry")
    promoted = registry.current(RISK_KIND)
    assert promoted.metadata["promoted"] and promoted.metadata["horizon_days"] == 14
    report = promoted.metadata["metrics"]
    assert {"evaluation", "baseline_logistic", "by_week", "refits", "spread", "reliability", "gates"} <= set(report)

    second = engagement_pipeline(RunParameters(config_file=config))
    assert second["models"]["risk_model"]["version"] == promoted.version
    learners = read_partition(tmp_path / "out", "learners", run_date).to_pandas()
    scored = learners[learners["risk_status"] == "scored"]
    assert len(scored) > 0 and scored["risk_probability"].between(0, 1).all()
    assert (scored["risk_horizon_days"] == 14).all() and set(scored["risk_band"]) <= {"low", "medium", "high"}
    assert learners.loc[learners["risk_status"] != "scored", "risk_status"].eq("not_eligible").all()
    high = scored[scored["risk_band"] == "high"]
    assert all(json.loads(d) for d in high["risk_drivers"])

    strict = _config(tmp_path, small_platform, "strict.yaml", {**SMALL, "min_auc": 0.999})
    assert main(["train-risk", "--config", strict]) == 1
    assert "NOT promoted" in capsys.readouterr().out
    # Saved, not promoted: the current model (what daily runs use) is still the first.
    assert len(registry.versions(RISK_KIND)) == 2 and registry.current(RISK_KIND).version == promoted.version
    assert registry.current_at(RISK_KIND, datetime.now(timezone.utc)).version == promoted.version

    # A backfill three weeks back: later events are left out and counted, the model (trained on
    # data through the latest run) is not used, and only that day's partitions are written.
    out = tmp_path / "out"
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*/run_date=*/*")}
    as_of = datetime.fromisoformat(first["as_of"]) - timedelta(days=21)
    back = engagement_pipeline(RunParameters(config_file=config, as_of=as_of))
    assert back["run_date"] == as_of.date().isoformat() != first["run_date"]
    later = sum(ts > as_of for ts in read_partition(out, "events", run_date)["ts"].to_pylist())
    assert back["counts"]["select"]["filtered_by_reason"]["after_as_of"] == later > 0
    assert back["models"]["risk_model"]["status"] == "no_model" and "up to" in back["models"]["risk_model"]["detail"]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in before} == before
    assert {p.parent.parent.name for p in out.glob(f"*/run_date={back['run_date']}/*")} >= {
        "events", "learners", "phase_scores", "insights", "report", "manifest"}
