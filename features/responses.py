"""The responses table: one row per spoken response, placed, with its latency."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from features.duck import query
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
