"""Learner x phase activity features: what a learner did in each phase of a course.

Only learner-initiated event types count as activity (``ActivityRules``); events a platform
sends to the learner (notifications, nudges) never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import pyarrow as pa
from annotated_types import Ge, Le

from features.audio_features import phase_audio
from features.duck import exact_avg, exact_sum, query, sql_str

LEARNER_EVENT_TYPES = ("app_open", "session_start", "session_end", "lesson_start", "lesson_complete",
                       "prompt_shown", "response_submitted", "milestone_reached", "level_up")


@dataclass(frozen=True)
class ActivityRules:
    """What counts as activity (the ``activity`` config section): the learner-initiated event
    types; a return is a day of activity after at least ``return_gap_days`` without; a response
    scored below ``low_score`` (0-1) is a low score."""

    learner_event_types: tuple[str, ...] = LEARNER_EVENT_TYPES
    return_gap_days: Annotated[int, Ge(1)] = 3
    low_score: Annotated[float, Ge(0), Le(1)] = 0.5

    def __post_init__(self) -> None:
        if not self.learner_event_types:
            raise ValueError("learner_event_types: name at least one learner-initiated event type")


def phase_activity(events: pa.Table, sessions: pa.Table, responses: pa.Table, as_of: datetime,
                   rules: ActivityRules = ActivityRules(), phase_lessons: pa.Table | None = None) -> pa.Table:
    """Return one row per learner x course x phase with activity features (docs/tables.md).

    Learner-initiated events count in their ``activity_phase``; session minutes count in the
    session's phase. Days are the learner's local days (the event's UTC offset, else the
    learner's last known one, else UTC). A phase's span runs from its first activity to the
    learner's first activity in a later phase, or to ``as_of``; its longest gap includes the
    silence at its end. ``curriculum_share`` is the share of the phase's lessons (``phase_lessons``
    from ``Curriculum.lessons_per_phase``, at the learner's level) completed. When the responses
    carry audio results, their per-phase aggregates are joined.
    """
    if phase_lessons is None:
        phase_lessons = pa.table({"course_id": pa.array([], pa.string()), "level": pa.array([], pa.string()),
                                  "phase": pa.array([], pa.string()), "lessons": pa.array([], pa.int64())})
    activity = _phase_activity(events, sessions, responses, as_of, rules, phase_lessons)
    if "audio_status" not in responses.column_names:
        return activity
    return query(
        "SELECT a.*, p.* EXCLUDE (user_id, course_id, phase) FROM activity a "
        "LEFT JOIN audio p USING (user_id, course_id, phase) ORDER BY a.user_id, a.course_id, a.phase_index",
        activity=activity, audio=phase_audio(responses))


def _phase_activity(events: pa.Table, sessions: pa.Table, responses: pa.Table, as_of: datetime,
                    rules: ActivityRules, phase_lessons: pa.Table) -> pa.Table:
    as_of_sql = f"TIMESTAMPTZ {sql_str(as_of.isoformat())}"
    types = ", ".join(sql_str(t) for t in rules.learner_event_types)
    return query(
        f"""
        WITH off AS (
          SELECT user_id, arg_max(utc_offset_min, ts) FILTER (utc_offset_min IS NOT NULL) AS learner_offset,
                 arg_min(cohort, ts) FILTER (cohort IS NOT NULL) AS cohort
          FROM events GROUP BY user_id),
        ev AS (
          SELECT e.*, CAST(e.ts + to_minutes(coalesce(e.utc_offset_min, o.learner_offset, 0)::BIGINT) AS DATE) AS local_day
          FROM events e LEFT JOIN off o USING (user_id)
          WHERE e.activity_phase IS NOT NULL AND e.event_type IN ({types})),
        days AS (
          SELECT user_id, course_id, activity_phase AS phase, local_day,
                 local_day - CAST(row_number() OVER w AS INTEGER) AS island,
                 local_day - lag(local_day) OVER w AS gap
          FROM (SELECT DISTINCT user_id, course_id, activity_phase, local_day FROM ev)
          WINDOW w AS (PARTITION BY user_id, course_id, activity_phase ORDER BY local_day)),
        day_stats AS (
          SELECT user_id, course_id, phase, max(gap) AS longest_inner_gap,
                 count(*) FILTER (gap >= {rules.return_gap_days}) AS returns_after_gap
          FROM days GROUP BY ALL),
        streaks AS (
          SELECT user_id, course_id, phase, max(n) AS longest_streak_days
          FROM (SELECT user_id, course_id, phase, island, count(*) AS n FROM days GROUP BY ALL)
          GROUP BY ALL),
        base AS (
          SELECT user_id, course_id, activity_phase AS phase, min(phase_index) AS phase_index,
                 arg_max(level, ts) AS level,
                 min(ts) AS first_activity_at, max(ts) AS last_activity_at,
                 count(DISTINCT local_day) AS active_days,
                 count(DISTINCT session_id) AS sessions,
                 count(*) AS events,
                 count(DISTINCT lesson_id) FILTER (event_type = 'lesson_start') AS lessons_started,
                 count(DISTINCT lesson_id) FILTER (event_type = 'lesson_complete') AS lessons_completed,
                 count(DISTINCT milestone_id) FILTER (event_type = 'milestone_reached') AS milestones_reached
          FROM ev GROUP BY user_id, course_id, activity_phase),
        spans AS (
          SELECT *, coalesce(lead(first_activity_at) OVER (PARTITION BY user_id, course_id ORDER BY first_activity_at),
                             {as_of_sql}) AS span_end
          FROM base),
        mins AS (
          SELECT user_id, course_id, phase, round({exact_sum('duration_min')}, 3) AS minutes
          FROM sessions WHERE phase IS NOT NULL GROUP BY ALL),
        tries AS (
          SELECT *, lead(submitted_at) OVER (PARTITION BY user_id, prompt_id ORDER BY submitted_at) IS NOT NULL
                    AS tried_again
          FROM responses),
        resp AS (
          SELECT user_id, course_id, phase, count(*) AS responses,
                 count(audio_uri) AS responses_with_audio,
                 round({exact_avg('latency_ms')} / 1000.0, 3) AS mean_latency_s,
                 round(median(latency_ms) / 1000.0, 3) AS median_latency_s,
                 round({exact_avg('attempt')}, 3) AS mean_attempt,
                 round({exact_avg('CASE WHEN attempt > 1 THEN 1.0 ELSE 0.0 END')}, 4) AS retry_share,
                 round({exact_avg('tried_again::INTEGER', f'score < {rules.low_score} AND prompt_id IS NOT NULL')}, 4)
                   AS retry_after_low_share,
                 round({exact_avg('score')}, 4) AS mean_score
          FROM tries WHERE phase IS NOT NULL GROUP BY ALL)
        SELECT b.user_id, b.course_id, b.phase, b.phase_index::SMALLINT AS phase_index, b.level, o.cohort,
               b.first_activity_at, b.last_activity_at,
               round(greatest(epoch(b.span_end) - epoch(b.first_activity_at), 86400) / 86400.0, 3) AS span_days,
               b.active_days, b.sessions,
               coalesce(m.minutes, 0.0) AS minutes, b.events,
               b.lessons_started, b.lessons_completed,
               CASE WHEN b.lessons_started > 0
                    THEN round(least(b.lessons_completed, b.lessons_started) / b.lessons_started, 4) END AS completion_rate,
               CASE WHEN pl.lessons > 0 THEN round(least(b.lessons_completed / pl.lessons, 1.0), 4) END
                 AS curriculum_share,
               b.milestones_reached,
               coalesce(r.responses, 0) AS responses, coalesce(r.responses_with_audio, 0) AS responses_with_audio,
               r.mean_latency_s, r.median_latency_s, r.mean_attempt, r.retry_share, r.retry_after_low_share,
               r.mean_score, s.longest_streak_days,
               greatest(coalesce(d.longest_inner_gap, 0),
                        floor((epoch(b.span_end) - epoch(b.last_activity_at)) / 86400.0))::INTEGER AS longest_gap_days,
               coalesce(d.returns_after_gap, 0) AS returns_after_gap,
               round((epoch({as_of_sql}) - epoch(b.last_activity_at)) / 86400.0, 3) AS days_since_last_activity,
               {as_of_sql} AS as_of
        FROM spans b
        LEFT JOIN off o USING (user_id)
        LEFT JOIN mins m USING (user_id, course_id, phase)
        LEFT JOIN resp r USING (user_id, course_id, phase)
        LEFT JOIN streaks s USING (user_id, course_id, phase)
        LEFT JOIN day_stats d USING (user_id, course_id, phase)
        LEFT JOIN phase_lessons pl ON pl.course_id = b.course_id AND pl.level = b.level AND pl.phase = b.phase
        ORDER BY b.user_id, b.course_id, b.phase_index
        """,
        events=events, sessions=sessions, responses=responses, phase_lessons=phase_lessons,
    )
