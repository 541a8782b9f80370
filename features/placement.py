"""Place every event in its course, level in force, milestone and phase."""

from __future__ import annotations

import pyarrow as pa

from features.curriculum import Curriculum
from features.duck import query, sql_str
from features.statuses import Mapping


def place_events(events: pa.Table, curriculum: Curriculum) -> pa.Table:
    """Return ``events`` with course_id, level, milestone_id, phase, phase_index and mapping set.

    The course and level in force are the event's own, else the learner's last ones seen at or
    before the event, else the learner's first ones seen (and, for the course, the only course
    when the curriculum has one). The milestone comes from the event's ``milestone_id`` when that
    exists in the curriculum of the course and level in force, else from its ``lesson_id``.
    ``mapping`` says which (``milestone_id`` / ``lesson_id``), ``unmapped`` when the event names
    a lesson or milestone that maps nowhere or is a response, and null otherwise. Row order is
    kept.
    """
    courses = curriculum.courses["course_id"].to_pylist()
    only_course = sql_str(courses[0]) if len(courses) == 1 else "NULL"
    return query(
        f"""
        WITH ev AS (SELECT *, row_number() OVER () AS _row FROM events),
        lv AS (SELECT user_id, ts, level AS lv FROM ev WHERE level IS NOT NULL),
        cr AS (SELECT user_id, ts, course_id AS cr FROM ev WHERE course_id IS NOT NULL),
        firsts AS (
          SELECT user_id, arg_min(level, ts) FILTER (level IS NOT NULL) AS first_level,
                 arg_min(course_id, ts) FILTER (course_id IS NOT NULL) AS first_course
          FROM ev GROUP BY user_id),
        resolved AS (
          SELECT ev.* EXCLUDE (course_id, level, milestone_id),
                 coalesce(ev.course_id, cr.cr, f.first_course, {only_course}) AS course_id,
                 coalesce(ev.level, lv.lv, f.first_level) AS level,
                 ev.milestone_id AS event_milestone_id
          FROM ev
          ASOF LEFT JOIN lv ON ev.user_id = lv.user_id AND ev.ts >= lv.ts
          ASOF LEFT JOIN cr ON ev.user_id = cr.user_id AND ev.ts >= cr.ts
          LEFT JOIN firsts f ON ev.user_id = f.user_id)
        SELECT r.* EXCLUDE (event_milestone_id, _row),
               coalesce(m1.milestone_id, m2.milestone_id, r.event_milestone_id) AS milestone_id,
               coalesce(m1.phase, m2.phase) AS phase,
               coalesce(m1.phase_index, m2.phase_index) AS phase_index,
               CASE WHEN m1.milestone_id IS NOT NULL THEN '{Mapping.MILESTONE_ID}'
                    WHEN m2.milestone_id IS NOT NULL THEN '{Mapping.LESSON_ID}'
                    WHEN r.event_milestone_id IS NOT NULL OR r.lesson_id IS NOT NULL
                         OR r.event_type = 'response_submitted' THEN '{Mapping.UNMAPPED}'
               END AS mapping
        FROM resolved r
        LEFT JOIN milestones m1 ON m1.course_id = r.course_id AND m1.level = r.level
                               AND m1.milestone_id = r.event_milestone_id
        LEFT JOIN lessons l ON l.course_id = r.course_id AND l.level = r.level
                           AND l.lesson_id = r.lesson_id
        LEFT JOIN milestones m2 ON m2.course_id = l.course_id AND m2.level = l.level
                               AND m2.milestone_id = l.milestone_id
        ORDER BY r._row
        """,
        events=events, milestones=curriculum.milestones, lessons=curriculum.lessons,
    )
