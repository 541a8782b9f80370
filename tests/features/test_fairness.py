"""Fairness breakdowns: a planted gap is flagged with an interval that excludes zero, an equal
world flags nothing, small groups and unknown values are shown but not compared."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.fairness import FairnessOptions, breakdown, gaps, learner_outcomes


def world(n=400, score_gap=0.0, seed=0):
    rng = np.random.default_rng(seed)
    gender = rng.choice(["f", "m"], n)
    learners = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "course_id": "english",
                             "latest_score": rng.normal(50, 10, n) + np.where(gender == "f", score_gap, 0),
                             "risk_band": rng.choice(["low", "high", None], n)})
    attributes = pd.DataFrame({"user_id": learners["user_id"], "gender": gender,
                               "age_band": rng.choice(["18-24", "25-34"], n)})
    attributes.loc[:4, "age_band"] = "55+"  # a group of 5: too small to compare
    assignments = learners.sample(frac=0.3, random_state=seed)[["user_id", "course_id"]]
    return learner_outcomes(learners, assignments, attributes.iloc[:-3], ("age_band", "gender"))


def test_a_planted_score_gap_is_flagged_and_its_interval_excludes_zero():
    found = gaps(world(score_gap=15.0), FairnessOptions())
    row = found[(found["attribute"] == "gender") & (found["metric"] == "mean_score")].iloc[0]
    assert row["flagged"] and row["high_value"] == "f" and row["low_value"] == "m"
    assert 12 < row["gap"] < 18 and row["ci_low"] > 0


def test_an_equal_world_flags_no_gap():
    found = gaps(world(), FairnessOptions())
    assert set(found["metric"]) == {"mean_score", "high_risk_share", "nudged_share"}
    assert not found["flagged"].any()


def test_small_groups_and_unknown_values_are_shown_but_not_compared():
    outcomes = world()
    table = breakdown(outcomes, FairnessOptions())
    small = table[table["value"].isin(["55+", "unknown"])]
    assert set(small["value"]) == {"55+", "unknown"} and not small["compared"].any()
    assert small.loc[small["value"] == "unknown", "learners"].iloc[0] == 3  # learners with no attributes row
    found = gaps(outcomes, FairnessOptions())
    assert not found[["high_value", "low_value"]].isin(["55+", "unknown"]).any().any()
    assert table["learners"].groupby(table["attribute"]).sum().eq(400).all()  # every learner counted once
