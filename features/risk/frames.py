"""The rows a risk model trains on and the rows a daily run scores."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa

from features.activity import ActivityRules
from features.curriculum import Curriculum
from features.risk.features import current_phase, phase_features, snapshot_features
from features.risk.options import RiskOptions
from features.risk.snapshots import daily_activity, outcome_times, snapshot_days, snapshots
from features.scoring.components import ScoringOptions


def training_frame(timeline: pa.Table, responses: pa.Table, curriculum: Curriculum, reference: pd.DataFrame,
                   as_of: datetime, options: RiskOptions, rules: ActivityRules = ActivityRules(),
                   scoring: ScoringOptions = ScoringOptions()) -> pd.DataFrame:
    """Return the labelled snapshot rows of a platform's history with their features: snapshots
    every ``options.snapshot_every_days`` whose horizon ends by ``as_of``."""
    daily = daily_activity(timeline, rules)
    outcomes = outcome_times(timeline, curriculum.final_milestones(), options)
    days = snapshot_days(daily, options.snapshot_every_days, as_of, options.window_days)
    rows = snapshots(daily, outcomes, days, options, as_of)
    rows = rows[rows["label"].notna()]
    phase_lessons = curriculum.lessons_per_phase()
    phases = {day: phase_features(timeline, responses, day, rules, phase_lessons, reference, scoring)
              for day in sorted(rows["snapshot"].unique())}
    return snapshot_features(rows, daily, responses, phases)


def scoring_frame(timeline: pa.Table, responses: pa.Table, curriculum: Curriculum, phase_scores: pd.DataFrame,
                  phase_activity: pd.DataFrame, as_of: datetime, options: RiskOptions,
                  rules: ActivityRules = ActivityRules()) -> pd.DataFrame:
    """Return the run's own snapshot (the midnight after ``as_of``'s day): every learner x
    course active in the window and neither withdrawn nor finished, with their features; the
    current phase's score comes from the run's own ``phase_scores``."""
    daily = daily_activity(timeline, rules)
    outcomes = outcome_times(timeline, curriculum.final_milestones(), options)
    day = (as_of + timedelta(days=1)).date()
    rows = snapshots(daily, outcomes, [day], options, as_of)
    phase = current_phase(phase_scores, phase_activity)
    return snapshot_features(rows, daily, responses, {day: phase})
