"""A small hand-made run (40 learners, one course, three phases) for the report's tests."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from features.insights.model import RunTables
from features.scoring.components import COMPONENT_NAMES

PHASES = ["intro", "core", "final"]


def run_tables(with_model=True, with_nudges=True, with_attributes=True) -> RunTables:
    rng = np.random.default_rng(3)
    # 40 learners: 20 stay in intro (12 of them quiet), 12 reach core (3 quiet), 8 reach final.
    reached = [0] * 20 + [1] * 12 + [2] * 8
    quiet = [True] * 12 + [False] * 8 + [True] * 3 + [False] * 9 + [False] * 8
    learners = pd.DataFrame({
        "user_id": [f"u{i:02d}" for i in range(40)], "course_id": "english",
        "current_phase": [PHASES[r] for r in reached], "current_phase_index": reached,
        "latest_score": rng.uniform(20, 80, 40).round(1), "group_id": [i % 2 for i in range(40)],
        "days_since_last_activity": [20.0 if q else 2.0 for q in quiet]})
    if with_model:
        prob = np.linspace(0.05, 0.95, 40)
        learners = learners.assign(risk_probability=prob, risk_horizon_days=14,
                                   risk_band=np.where(prob > 0.6, "high", np.where(prob > 0.3, "medium", "low")),
                                   risk_drivers=[json.dumps([{"feature": "days_since_last_activity", "value": 20.0,
                                                              "contribution": 1.5}]) if p > 0.6 else None for p in prob],
                                   risk_status="scored")
    else:
        learners = learners.assign(risk_probability=np.nan, risk_horizon_days=np.nan, risk_band=None,
                                   risk_drivers=None, risk_status="no_model")
    rows = []
    for u, r in zip(learners["user_id"], reached):
        for i in range(r + 1):
            rows.append({"user_id": u, "course_id": "english", "phase": PHASES[i], "phase_index": i,
                         "cohort": "2026-W32", "engagement_score": 60.0 - 10 * i, "band": "medium",
                         "coverage": 0.9, **{c: 50.0 for c in COMPONENT_NAMES}})
    scores = pd.DataFrame(rows)
    activity = scores[["user_id", "course_id", "phase_index"]].assign(
        pause_ratio_rel_mean=0.02 * scores["phase_index"], loudness_mean_db_rel_mean=0.0)
    nudges = pd.DataFrame({"user_id": ["u00", "u01", "u02"], "course_id": "english",
                           "type": ["comeback", "comeback", "streak"], "channel": ["push", "email", "push"]})
    assignments = pd.DataFrame({"user_id": ["u00", "u01", "u02", "u03"], "course_id": "english",
                                "type": ["comeback", "comeback", "streak", "comeback"],
                                "arm": ["treated", "treated", "treated", "held_out"]})
    attributes = pd.DataFrame({"user_id": learners["user_id"], "gender": ["f", "m"] * 20, "age_band": "18-24"})
    return RunTables(
        run_date="2026-12-20", as_of="2026-12-20T12:00:00+00:00", phase_scores=scores, learners=learners,
        groups=pd.DataFrame({"group_id": [0, 1], "name": ["steady", "fading"], "profile": ["a", "b"],
                             "size": [20, 20], "mean_score": [55.0, 41.0]}),
        phase_activity=activity, models={"risk_model": {"status": "used" if with_model else "no_model"}},
        counts={"ingest": {"input_records": 1000, "quarantined": 30, "quarantined_by_reason": {"invalid_json": 20,
                                                                                               "wrong_type": 10}},
                "responses": {"responses": 200, "unmapped": 4}},
        audio_status={"ok": 180, "silent": 20}, emotion_status={"unavailable": 200},
        nudges=nudges if with_nudges else None, nudge_assignments=assignments if with_nudges else None,
        nudge_effects=pd.DataFrame(), attributes=attributes if with_attributes else None,
        risk_model={"version": "v1", "metrics": {"reliability": [{"predicted": 0.1, "observed": 0.12},
                                                                 {"predicted": 0.8, "observed": 0.7}],
                                                 "evaluation": {"auc": 0.81, "ece": 0.04}}} if with_model else None)
