"""The risk model: time slices with gaps, calibration, gates, bands, drivers, bad model files
and features missing at scoring time."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from features.registry import Registry
from features.risk.apply import current_model, with_risk
from features.risk.model import (RISK_KIND, RiskDataError, RiskModelError, read_model, save_model, time_slices,
                                 train_risk_model)
from features.risk.evaluation import METRIC_NAMES
from features.risk.options import RiskOptions
from features.statuses import RiskStatus

FEATURES = ["days_idle", "sessions", "noise"]
OPTIONS = RiskOptions(refits=3, max_iter=60)


def synthetic_frame(weeks: int = 20, learners: int = 150, seed: int = 0) -> pd.DataFrame:
    """Weekly snapshots where leaving depends on idleness and activity, plus a noise feature."""
    rng = np.random.default_rng(seed)
    rows = []
    for week in range(weeks):
        idle = rng.exponential(5, learners)
        sessions = rng.poisson(4, learners).astype(float)
        p = 1 / (1 + np.exp(-(0.4 * idle - 0.5 * sessions)))
        rows.append(pd.DataFrame({"user_id": [f"u{i}" for i in range(learners)], "course_id": "c",
                                  "snapshot": date(2026, 1, 5) + timedelta(weeks=week), "days_idle": idle,
                                  "sessions": sessions, "noise": rng.normal(size=learners),
                                  "label": (rng.random(learners) < p).astype(int), "label_source": "inactivity"}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def trained():
    return train_risk_model(synthetic_frame(), FEATURES, OPTIONS)


def test_slices_are_in_time_order_with_a_horizon_gap():
    days = [date(2026, 1, 1) + timedelta(days=d) for d in range(0, 140, 7)]
    training, calibration, evaluation = time_slices(days, OPTIONS)
    assert max(training) + timedelta(days=OPTIONS.horizon_days) <= min(calibration)
    assert max(calibration) + timedelta(days=OPTIONS.horizon_days) <= min(evaluation)


def test_model_separates_and_is_calibrated(trained):
    model, report = trained
    assert report["evaluation"]["auc"] > 0.8 and report["gates"]["passed"]
    assert report["evaluation"]["ece"] < 0.08
    assert len(report["refits"]) == OPTIONS.refits and report["auc_spread"] == report["spread"]["auc"] < 0.05
    assert set(report["spread"]) == set(METRIC_NAMES) and all("brier_spread" in w for w in report["by_week"])
    assert {"auc", "pr_auc", "brier", "ece", "mcc"} <= set(report["baseline_logistic"])
    assert len(report["reliability"]) == 10 and report["by_week"]
    assert report["slices"]["training"]["days"][1] < report["slices"]["calibration"]["days"][0]


def test_shuffled_labels_are_saved_but_not_promoted_and_current_stays(trained, tmp_path):
    registry = Registry(tmp_path)
    good = save_model(registry, trained[0], {"rows": 1})
    assert good.metadata["promoted"] and registry.current(RISK_KIND).version == good.version
    frame = synthetic_frame()
    frame["label"] = np.random.default_rng(1).permutation(frame["label"].to_numpy())
    shuffled, report = train_risk_model(frame, FEATURES, OPTIONS)
    assert report["evaluation"]["auc"] < OPTIONS.min_auc and not report["gates"]["passed"]
    bad = save_model(registry, shuffled, {"rows": 1})
    assert not bad.metadata["promoted"] and bad.version in registry.versions(RISK_KIND)
    assert registry.current(RISK_KIND).version == good.version


def test_too_few_positives_is_a_clear_error():
    frame = synthetic_frame()
    frame["label"] = 0
    frame.loc[frame.index[:5], "label"] = 1
    with pytest.raises(RiskDataError, match="too few labelled snapshots.*positives"):
        train_risk_model(frame, FEATURES, OPTIONS)


def test_bands_and_drivers_on_the_learners_table(trained):
    model, _ = trained
    frame = synthetic_frame(weeks=1, learners=60, seed=5)
    learners = frame[["user_id", "course_id"]].assign(latest_score=50.0)
    learners = pd.concat([learners, pd.DataFrame({"user_id": ["gone"], "course_id": ["c"], "latest_score": [1.0]})])
    out = with_risk(learners, frame, model, "v1", None, None)
    scored = out[out["risk_status"] == RiskStatus.SCORED]
    assert len(scored) == 60 and out.loc[out["user_id"] == "gone", "risk_status"].item() == RiskStatus.NOT_ELIGIBLE
    assert scored["risk_probability"].between(0, 1).all() and (scored["risk_horizon_days"] == 14).all()
    high = scored[scored["risk_band"] == "high"]
    assert len(high) and high["risk_drivers"].notna().all() and scored.loc[scored["risk_band"] != "high", "risk_drivers"].isna().all()
    drivers = [json.loads(d) for d in high["risk_drivers"]]
    assert all(0 < len(d) <= 3 and all(x["contribution"] > 0 for x in d) for d in drivers)
    # the idlest learners' first driver is idleness, never the noise column
    idlest = high.merge(frame, on=["user_id", "course_id"]).nlargest(5, "days_idle")
    assert all(json.loads(d)[0]["feature"] == "days_idle" for d in idlest["risk_drivers"])


def test_a_feature_missing_at_scoring_time_is_a_status_not_a_probability(trained):
    model, _ = trained
    frame = synthetic_frame(weeks=1, learners=40, seed=6)
    learners = frame[["user_id", "course_id"]]
    out = with_risk(learners, frame.drop(columns=["sessions"]), model, "v1", None, None)
    assert (out["risk_status"] == RiskStatus.MODEL_UNUSABLE).all() and out["risk_probability"].isna().all()
    assert "sessions" in out["risk_detail"].iloc[0]
    emptied = with_risk(learners, frame.assign(sessions=np.nan), model, "v1", None, None)
    assert (emptied["risk_status"] == RiskStatus.MODEL_UNUSABLE).all() and "no values" in emptied["risk_detail"].iloc[0]


def test_no_model_unreadable_and_foreign_files(trained, tmp_path):
    registry = Registry(tmp_path / "reg")
    assert current_model(registry)[2] == RiskStatus.NO_MODEL
    entry = registry.save(RISK_KIND, {"model.joblib": b"not a pickle"}, {}, promote=True)
    model, version, status, detail = current_model(registry)
    assert model is None and version == entry.version and status == RiskStatus.MODEL_UNUSABLE
    assert "not a readable risk model" in detail
    import joblib

    joblib.dump({"some": "dict"}, tmp_path / "foreign.joblib")
    with pytest.raises(RiskModelError, match="not an engage risk model"):
        read_model(tmp_path / "foreign.joblib")
    out = with_risk(pd.DataFrame({"user_id": ["a"], "course_id": ["c"]}), pd.DataFrame(), None, version, status, detail)
    assert out["risk_status"].item() == "model_unusable" and pd.isna(out["risk_probability"].item())
