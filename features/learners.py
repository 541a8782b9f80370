"""The ``learners`` table: one row per learner x course, as of the run."""

from __future__ import annotations

import pandas as pd

from features.duck import query


def learners_table(phase_activity, phase_scores: pd.DataFrame, groups: pd.DataFrame | None) -> pd.DataFrame:
    """Return one row per learner x course: level, current phase (the phase of the latest
    activity), its score, band and coverage, ``score_trend`` (the current phase's score minus the
    previous phase's), group, and days since last activity (from as_of).

    ``phase_activity`` is a table or DataFrame; ``groups`` holds ``user_id, course_id,
    group_id``, or is None.
    """
    if groups is None:
        groups = pd.DataFrame({"user_id": pd.Series(dtype=str), "course_id": pd.Series(dtype=str),
                               "group_id": pd.Series(dtype="Int64")})
    out = query(
        """
        WITH current AS (
          SELECT user_id, course_id,
                 arg_max(phase, (last_activity_at, phase_index)) AS current_phase,
                 arg_max(phase_index, (last_activity_at, phase_index)) AS current_phase_index,
                 arg_max(level, (last_activity_at, phase_index)) AS level,
                 min(days_since_last_activity) AS days_since_last_activity
          FROM activity GROUP BY user_id, course_id)
        SELECT c.user_id, c.course_id, c.level, c.current_phase, c.current_phase_index,
               s.engagement_score AS latest_score, s.band AS latest_band,
               s.change_from_previous_phase AS score_trend, s.coverage, g.group_id::BIGINT AS group_id,
               c.days_since_last_activity
        FROM current c
        LEFT JOIN scores s ON s.user_id = c.user_id AND s.course_id = c.course_id AND s.phase = c.current_phase
        LEFT JOIN grouped g ON g.user_id = c.user_id AND g.course_id = c.course_id
        ORDER BY c.user_id, c.course_id
        """, activity=phase_activity, scores=phase_scores, grouped=groups).to_pandas()
    out["group_id"] = out["group_id"].astype("Int64")
    return out
