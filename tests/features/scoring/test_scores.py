"""The score's arithmetic: components against a fixed reference, weights spread over missing
components, coverage, percentiles, change from the previous phase, bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.scoring.components import COMPONENT_NAMES, METRICS, ScoringOptions
from features.scoring.reference import fit_reference, percentiles
from features.scoring.scores import phase_scores


def metrics_frame(n: int, seed: int, audio: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({m: rng.normal(size=n) for m in METRICS})
    frame["fluency_score_mean"] = np.nan  # no fluency head
    frame["emotion_balance_mean"] = np.nan  # no emotion model
    frame["audio_ok_responses"] = 5 if audio else 0
    frame["user_id"] = [f"u{i % (n // 2)}" for i in range(n)]
    frame["course_id"], frame["cohort"], frame["level"] = "english", "W1", "A1"
    frame["phase"] = ["onboarding" if i < n // 2 else "foundations" for i in range(n)]
    frame["phase_index"] = [0 if i < n // 2 else 1 for i in range(n)]
    return frame


def test_a_value_scales_to_its_mid_rank_in_the_reference_of_its_course_and_phase():
    ref_rows = metrics_frame(400, 1)
    reference = fit_reference(ref_rows)
    probe = ref_rows.iloc[:3].copy()
    median = np.median(ref_rows.loc[ref_rows["phase"] == "onboarding", "active_day_share"])
    probe["active_day_share"] = [median, -99.0, 99.0]
    assert percentiles(probe, reference)["active_day_share"].round().tolist() == [50.0, 0.0, 100.0]


def test_missing_components_spread_their_weight_and_lower_coverage():
    metrics = metrics_frame(200, 2, audio=False)
    options = ScoringOptions(weights={"regularity": 1, "pace": 1, "vocal_energy": 2})
    scores = phase_scores(metrics, fit_reference(metrics_frame(400, 3)), options, "score-1")
    assert scores["vocal_energy"].isna().all()  # no analysable answers
    assert np.allclose(scores["engagement_score"], ((scores["regularity"] + scores["pace"]) / 2).round(1), atol=0.06)
    assert (scores["coverage"] == 0.5).all()
    with_audio = phase_scores(metrics_frame(200, 2), fit_reference(metrics_frame(400, 3)), options, "score-1")
    assert (with_audio["coverage"] == 1.0).all()


def test_percentile_change_and_band_columns():
    metrics = metrics_frame(200, 4)
    scores = phase_scores(metrics, fit_reference(metrics), ScoringOptions(bands=(40, 60)), "score-1")
    assert scores["cohort_percentile"].between(0, 100).all()
    first = scores[scores["phase_index"] == 0]
    second = scores[scores["phase_index"] == 1].set_index("user_id")
    assert first["change_from_previous_phase"].isna().all()
    merged = second.join(first.set_index("user_id")["engagement_score"].rename("before"))
    assert np.allclose(merged["change_from_previous_phase"], (merged["engagement_score"] - merged["before"]).round(1), atol=0.11)
    expected = np.select([scores["engagement_score"] < 40, scores["engagement_score"] < 60], ["low", "medium"], "high")
    assert (scores["band"] == expected).all()
    assert set(COMPONENT_NAMES) <= set(scores.columns)


def test_bad_options_name_the_problem():
    with pytest.raises(ValueError, match="unknown component.*'charisma'"):
        ScoringOptions(weights={"charisma": 1})
    with pytest.raises(ValueError, match="non-negative"):
        ScoringOptions(weights={"pace": -1})
    with pytest.raises(ValueError, match="bands"):
        ScoringOptions(bands=(70, 30))
