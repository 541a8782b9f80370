"""Cut learner sessions and give each event its session and phase."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pyarrow as pa
from annotated_types import Gt

from features.duck import query
from features.statuses import SessionSource


@dataclass(frozen=True)
class SessionRules:
    """How sessions are cut when the client sent no ``session_id`` (the ``sessions`` config
    section): at gaps longer than ``inactivity_gap_minutes`` between a learner's events."""

    inactivity_gap_minutes: Annotated[float, Gt(0)] = 30.0


def assign_sessions(events: pa.Table, rules: SessionRules = SessionRules()) -> pa.Table:
    """Return placed ``events`` with ``session_id``, ``session_source`` and ``activity_phase``.

    An event keeps its own ``session_id`` (``session_source = 'telemetry'``). Events without one
    are cut into sessions per learner wherever two consecutive such events are more than
    ``rules.inactivity_gap_minutes`` apart (``'inactivity_gap'``, ids ``<user>#g<n>``).
    ``session_phase`` is the phase most of the session's placed events are in (the earlier
    phase on a tie); ``activity_phase`` is the event's own phase, else its session's.
    """
    gap_us = int(rules.inactivity_gap_minutes * 60 * 1_000_000)
    return query(
        f"""
        WITH ev AS (SELECT *, row_number() OVER () AS _row FROM events),
        gaps AS (
          SELECT _row, sum(new) OVER (PARTITION BY user_id ORDER BY ts, event_id) AS n
          FROM (SELECT _row, user_id, ts, event_id,
                       CASE WHEN epoch_us(ts) - lag(epoch_us(ts)) OVER (PARTITION BY user_id ORDER BY ts, event_id)
                            <= {gap_us} THEN 0 ELSE 1 END AS new
                FROM ev WHERE session_id IS NULL)),
        keyed AS (
          SELECT ev.* EXCLUDE (session_id),
                 coalesce(ev.session_id, ev.user_id || '#g' || lpad(g.n::VARCHAR, 4, '0')) AS session_id,
                 CASE WHEN ev.session_id IS NULL THEN '{SessionSource.INACTIVITY_GAP}'
                      ELSE '{SessionSource.TELEMETRY}' END AS session_source
          FROM ev LEFT JOIN gaps g USING (_row)),
        main_phase AS (
          SELECT user_id, session_id, arg_min(phase, (-n, phase_index)) AS session_phase
          FROM (SELECT user_id, session_id, phase, phase_index, count(*) AS n FROM keyed
                WHERE phase IS NOT NULL GROUP BY ALL)
          GROUP BY ALL)
        SELECT k.* EXCLUDE (_row), m.session_phase, coalesce(k.phase, m.session_phase) AS activity_phase
        FROM keyed k LEFT JOIN main_phase m USING (user_id, session_id)
        ORDER BY k._row
        """,
        events=events,
    )


def build_sessions(events: pa.Table) -> pa.Table:
    """Return one row per learner session from events with sessions assigned.

    Columns: user_id, session_id, session_source, course_id, phase, started_at, ended_at,
    duration_min, events, responses, lessons_completed. Sorted by user and start.
    """
    return query(
        """
        SELECT user_id, session_id, any_value(session_source) AS session_source,
               max(course_id) AS course_id, any_value(session_phase) AS phase,
               min(ts) AS started_at, max(ts) AS ended_at,
               round((epoch(max(ts)) - epoch(min(ts))) / 60.0, 3) AS duration_min,
               count(*) AS events,
               count(*) FILTER (event_type = 'response_submitted') AS responses,
               count(DISTINCT lesson_id) FILTER (event_type = 'lesson_complete') AS lessons_completed
        FROM events GROUP BY user_id, session_id
        ORDER BY user_id, started_at, session_id
        """,
        events=events,
    )
