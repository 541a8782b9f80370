"""What nudge rules can read: one row per learner x course with the learners table's columns, the
current phase's activity and score components, and peer comparisons within the cohort."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

ACTIVITY = ("active_days", "sessions", "minutes", "lessons_started", "lessons_completed", "completion_rate",
            "curriculum_share", "milestones_reached", "responses", "median_latency_s", "longest_streak_days",
            "longest_gap_days", "returns_after_gap", "span_days")
COMPONENTS = ("regularity", "time_on_task", "completion", "persistence", "pace", "responsiveness", "answer_effort",
              "fluency", "vocal_energy", "pitch_variation", "hesitation", "emotion_balance")
LEARNER = ("user_id", "course_id", "level", "current_phase", "current_phase_index", "latest_score", "latest_band",
           "score_trend", "coverage", "group_id", "days_since_last_activity", "risk_probability", "risk_band",
           "risk_horizon_days")
PEERS = ("cohort", "cohort_size", "responses_7d", "active_7d", "peer_active_share_7d", "peer_speaking_share_7d",
         "peer_median_score")
FEATURES = frozenset(LEARNER + ACTIVITY + COMPONENTS + PEERS)


def nudge_features(learners: pd.DataFrame, activity: pa.Table, scores: pd.DataFrame, responses: pd.DataFrame,
                   as_of: datetime) -> pd.DataFrame:
    """Return one row per learner x course of ``learners`` with every name in ``FEATURES``
    (null where there is no data), from the ``phase_activity`` table ``activity``. Peers are
    the learners of the same course and cohort: ``peer_active_share_7d`` is the share of them active in the 7 days before as_of,
    ``peer_speaking_share_7d`` the share who answered a speaking prompt then, and
    ``peer_median_score`` their median latest score."""
    keys = ["user_id", "course_id"]
    phase = ["user_id", "course_id", "current_phase"]
    out = learners[[c for c in LEARNER if c in learners.columns]].copy()
    for column in LEARNER:
        if column not in out.columns:
            out[column] = np.nan
    read = ["user_id", "course_id", "phase", "cohort", *(c for c in ACTIVITY if c in activity.column_names)]
    current = activity.select(read).to_pandas().rename(columns={"phase": "current_phase"})
    out = out.merge(current, on=phase, how="left")
    out = out.merge(scores.rename(columns={"phase": "current_phase"})[phase + [c for c in COMPONENTS if c in scores.columns]],
                    on=phase, how="left")
    week_ago = pd.Timestamp(as_of - timedelta(days=7))
    recent = responses[pd.to_datetime(responses["submitted_at"], utc=True) > week_ago] if len(responses) else responses
    spoke = recent.groupby(keys).size().rename("responses_7d").reset_index() if len(recent) else \
        pd.DataFrame(columns=keys + ["responses_7d"])
    out = out.merge(spoke, on=keys, how="left")
    out["responses_7d"] = out["responses_7d"].fillna(0).astype(float)
    out["active_7d"] = (out["days_since_last_activity"] < 7).astype(float)
    out["cohort"] = out["cohort"].fillna("unknown")
    cohort = out.groupby(["course_id", "cohort"])
    out["cohort_size"] = cohort["user_id"].transform("size").astype(float)
    out["peer_active_share_7d"] = cohort["active_7d"].transform("mean")
    out["peer_speaking_share_7d"] = cohort["responses_7d"].transform(lambda s: float((s > 0).mean()))
    out["peer_median_score"] = cohort["latest_score"].transform("median")
    for column in FEATURES - {"user_id", "course_id", "level", "current_phase", "latest_band", "risk_band", "cohort"}:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    return out
