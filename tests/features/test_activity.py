from datetime import timedelta

from features.activity import phase_activity
from features.responses import build_responses
from features.placement import place_events
from features.sessions import SessionRules, assign_sessions, build_sessions
from tests.features.conftest import T0, make_events

DAY = 24 * 60


def test_phase_activity_counts_local_days_streaks_completion_latency_and_recency(curriculum):
    rows = []
    # Learner u at UTC+05:30: three consecutive local days, then a gap, then one more day.
    for day in (0, 1, 2, 5):
        base = day * DAY + 9 * 60  # T0 + 9 h = 17:00 UTC = 22:30 local: the same day.
        sid = f"s{day}"
        rows += [
            {"user_id": "u", "event_type": "app_open", "session_id": sid, "level": "A1", "course_id": "english",
             "utc_offset_min": 330, "minutes": base},
            {"user_id": "u", "event_type": "lesson_start", "session_id": sid, "lesson_id": f"A1-L{1 + day % 2}",
             "utc_offset_min": 330, "minutes": base + 1},
            {"user_id": "u", "event_type": "prompt_shown", "session_id": sid, "lesson_id": "A1-L1",
             "prompt_id": f"p{day}", "utc_offset_min": 330, "minutes": base + 2},
            {"user_id": "u", "event_type": "response_submitted", "session_id": sid, "lesson_id": "A1-L1",
             "prompt_id": f"p{day}", "attempt": 1 + (day == 5), "utc_offset_min": 330, "minutes": base + 3},
        ]
    rows.append({"user_id": "u", "event_type": "lesson_complete", "session_id": "s0", "lesson_id": "A1-L1",
                 "utc_offset_min": 330, "minutes": 9 * 60 + 10})
    # T0 + 5 days 11 h = 19:00 UTC = 00:30 local the next day: a second, two-day run.
    rows.append({"user_id": "u", "event_type": "lesson_start", "session_id": "s6", "lesson_id": "A1-L2",
                 "utc_offset_min": 330, "minutes": 5 * DAY + 11 * 60})
    events = make_events(rows)
    timeline = assign_sessions(place_events(events, curriculum), SessionRules(30))
    sessions = build_sessions(timeline)
    responses = build_responses(timeline, curriculum.languages())
    as_of = T0 + timedelta(days=10)
    (row,) = phase_activity(timeline, sessions, responses, as_of).to_pylist()
    assert (row["phase"], row["sessions"], row["responses"]) == ("onboarding", 5, 4)
    assert row["active_days"] == 5
    assert row["longest_streak_days"] == 3
    assert (row["lessons_started"], row["lessons_completed"], row["completion_rate"]) == (2, 1, 0.5)
    assert row["mean_latency_s"] == 60.0
    assert row["retry_share"] == 0.25
    last = T0 + timedelta(minutes=5 * DAY + 11 * 60)
    assert row["days_since_last_activity"] == round((as_of - last).total_seconds() / 86400, 3)
    assert {r["language"] for r in responses.to_pylist()} == {"en"}
