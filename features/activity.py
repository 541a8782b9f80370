"""The responses table and learner x phase activity features."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from features.audio_features import phase_audio
from features.duck import query, sql_str
from features.errors import EngageError


class NoEvents(EngageError):
    """A run with no event to work on."""

# A prompt_shown more than this long before its response is not taken as its prompt.
MAX_LATENCY_S = 3600


def latest_time(events: pa.Table) -> datetime:
    """Return the latest ``ts`` of ``events`` (a run's default as_of).

    Raises:
        NoEvents: when ``events`` is empty.
    """
    import pyarrow.compute as pc

    if events.num_rows == 0:
        raise NoEvents("no events survived ingest, so there is no as_of")
    return pc.max(events["ts"]).as_py()


def build_responses(events: pa.Table, curriculum_languages: dict[str, str]) -> pa.Table:
    """Return one row per ``response_submitted`` event of placed, sessioned ``events``.

    ``latency_ms`` runs from the learner's latest ``prompt_shown`` for the same prompt at or
    before the response (null when there is none within an hour). ``language`` is the course's.
    Sorted by user, time and id.
    """
    langs = pa.table({"course_id": list(curriculum_languages),
                      "language": list(curriculum_languages.values())})
    return query(
        f"""
        WITH r AS (SELECT * FROM events WHERE event_type = 'response_submitted'),
        p AS (SELECT user_id, prompt_id, ts AS shown_at FROM events
              WHERE event_type = 'prompt_shown' AND prompt_id IS NOT NULL)
        SELECT r.event_id AS response_id, r.user_id, r.session_id, r.course_id, lg.language,
               r.level, r.phase, r.phase_index, r.milestone_id, r.lesson_id, r.prompt_id,
               r.mapping, r.ts AS submitted_at, r.utc_offset_min,
               CASE WHEN epoch_ms(r.ts) - epoch_ms(p.shown_at) <= {MAX_LATENCY_S * 1000}
                    THEN epoch_ms(r.ts) - epoch_ms(p.shown_at) END AS latency_ms,
               r.duration_ms, r.expected_duration_ms, r.score, r.attempt, r.audio_uri
        FROM r ASOF LEFT JOIN p ON r.user_id = p.user_id AND r.prompt_id = p.prompt_id
                                AND r.ts >= p.shown_at
        LEFT JOIN langs lg ON lg.course_id = r.course_id
        ORDER BY r.user_id, r.ts, r.event_id
        """,
        events=events, langs=langs,
    )


def phase_activity(events: pa.Table, sessions: pa.Table, responses: pa.Table,
                   as_of: datetime) -> pa.Table:
    """Return one row per learner x course x phase with activity features.

    Events count in their ``activity_phase``; session minutes count in the session's phase.
    Days are the learner's local days (the event's UTC offset, else the learner's last known
    one, else UTC). ``days_since_last_activity`` counts from ``as_of``. When the responses
    carry audio results, their per-phase aggregates are joined. See docs/tables.md.
    """
    activity = _phase_activity(events, sessions, responses, as_of)
    if "audio_status" not in responses.column_names:
        return activity
    return query(
        "SELECT a.*, p.* EXCLUDE (user_id, course_id, phase) FROM activity a "
        "LEFT JOIN audio p USING (user_id, course_id, phase) ORDER BY a.user_id, a.course_id, a.phase_index",
        activity=activity, audio=phase_audio(responses))


def _phase_activity(events: pa.Table, sessions: pa.Table, responses: pa.Table, as_of: datetime) -> pa.Table:
    as_of_sql = f"TIMESTAMPTZ {sql_str(as_of.isoformat())}"
    return query(
        f"""
        WITH off AS (
          SELECT user_id, arg_max(utc_offset_min, ts) FILTER (utc_offset_min IS NOT NULL) AS learner_offset
          FROM events GROUP BY user_id),
        ev AS (
          SELECT e.*, CAST(e.ts + to_minutes(coalesce(e.utc_offset_min, o.learner_offset, 0)::BIGINT) AS DATE) AS local_day
          FROM events e LEFT JOIN off o USING (user_id)
          WHERE e.activity_phase IS NOT NULL),
        days AS (
          SELECT user_id, course_id, activity_phase AS phase, local_day,
                 local_day - CAST(row_number() OVER (PARTITION BY user_id, course_id, activity_phase ORDER BY local_day) AS INTEGER) AS island
          FROM (SELECT DISTINCT user_id, course_id, activity_phase, local_day FROM ev)),
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
        mins AS (
          SELECT user_id, course_id, phase, round(sum(duration_min), 3) AS minutes
          FROM sessions WHERE phase IS NOT NULL GROUP BY ALL),
        resp AS (
          SELECT user_id, course_id, phase, count(*) AS responses,
                 count(audio_uri) AS responses_with_audio,
                 round(avg(latency_ms) / 1000.0, 3) AS mean_latency_s,
                 round(median(latency_ms) / 1000.0, 3) AS median_latency_s,
                 round(avg(attempt), 3) AS mean_attempt,
                 round(avg(CASE WHEN attempt > 1 THEN 1.0 ELSE 0.0 END), 4) AS retry_share,
                 round(avg(score), 4) AS mean_score
          FROM responses WHERE phase IS NOT NULL GROUP BY ALL)
        SELECT b.user_id, b.course_id, b.phase, b.phase_index::SMALLINT AS phase_index, b.level,
               b.first_activity_at, b.last_activity_at, b.active_days, b.sessions,
               coalesce(m.minutes, 0.0) AS minutes, b.events,
               b.lessons_started, b.lessons_completed,
               CASE WHEN b.lessons_started > 0
                    THEN round(least(b.lessons_completed, b.lessons_started) / b.lessons_started, 4) END AS completion_rate,
               b.milestones_reached,
               coalesce(r.responses, 0) AS responses, coalesce(r.responses_with_audio, 0) AS responses_with_audio,
               r.mean_latency_s, r.median_latency_s, r.mean_attempt, r.retry_share, r.mean_score,
               s.longest_streak_days,
               round((epoch({as_of_sql}) - epoch(b.last_activity_at)) / 86400.0, 3) AS days_since_last_activity,
               {as_of_sql} AS as_of
        FROM base b
        LEFT JOIN mins m USING (user_id, course_id, phase)
        LEFT JOIN resp r USING (user_id, course_id, phase)
        LEFT JOIN streaks s USING (user_id, course_id, phase)
        ORDER BY b.user_id, b.course_id, b.phase_index
        """,
        events=events, sessions=sessions, responses=responses,
    )
