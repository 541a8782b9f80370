from features.placement import place_events
from features.sessions import SessionRules, assign_sessions, build_sessions
from tests.features.conftest import make_events


def rows_by_id(table):
    return {r["event_id"]: r for r in table.to_pylist()}


def test_level_in_force_at_response_time_places_the_response(curriculum):
    events = make_events([
        {"event_id": "open", "user_id": "u", "event_type": "app_open", "level": "A1", "course_id": "english", "minutes": 0},
        {"event_id": "r1", "user_id": "u", "event_type": "response_submitted", "lesson_id": "A1-L3", "minutes": 5},
        {"event_id": "up", "user_id": "u", "event_type": "level_up", "level": "A2", "minutes": 10},
        {"event_id": "r2", "user_id": "u", "event_type": "response_submitted", "lesson_id": "A2-L2", "minutes": 15},
        {"event_id": "r3", "user_id": "u", "event_type": "response_submitted", "lesson_id": "A1-L1", "minutes": 20},
        {"event_id": "m", "user_id": "u", "event_type": "milestone_reached", "milestone_id": "A2-M1", "minutes": 21},
        {"event_id": "r4", "user_id": "u", "event_type": "response_submitted", "minutes": 22},
    ])
    placed = rows_by_id(place_events(events, curriculum))
    assert (placed["r1"]["level"], placed["r1"]["phase"], placed["r1"]["mapping"]) == ("A1", "foundations", "lesson_id")
    assert (placed["r2"]["level"], placed["r2"]["milestone_id"], placed["r2"]["phase_index"]) == ("A2", "A2-M2", 1)
    # An A1 lesson after the learner moved to A2 maps nowhere under the A2 curriculum.
    assert (placed["r3"]["phase"], placed["r3"]["mapping"]) == (None, "unmapped")
    assert (placed["m"]["phase"], placed["m"]["mapping"]) == ("onboarding", "milestone_id")
    assert placed["r4"]["mapping"] == "unmapped"
    assert placed["open"]["mapping"] is None
    # The only course in the curriculum fills in a missing course.
    assert {r["course_id"] for r in placed.values()} == {"english"}


def test_sessions_come_from_session_id_or_an_inactivity_gap(curriculum):
    events = make_events([
        {"event_id": "a", "user_id": "u", "event_type": "app_open", "session_id": "s1", "minutes": 0},
        {"event_id": "b", "user_id": "u", "event_type": "lesson_start", "session_id": "s1", "lesson_id": "A1-L1", "minutes": 50},
        {"event_id": "c", "user_id": "v", "event_type": "app_open", "level": "A1", "minutes": 0},
        {"event_id": "d", "user_id": "v", "event_type": "lesson_start", "lesson_id": "A1-L3", "minutes": 20},
        {"event_id": "e", "user_id": "v", "event_type": "app_open", "minutes": 80},
    ])
    timeline = assign_sessions(place_events(events, curriculum), SessionRules(inactivity_gap_minutes=30))
    by_id = rows_by_id(timeline)
    assert by_id["a"]["session_id"] == by_id["b"]["session_id"] == "s1"
    assert by_id["c"]["session_id"] == by_id["d"]["session_id"] != by_id["e"]["session_id"]
    assert by_id["c"]["session_source"] == "inactivity_gap"
    # An event without its own phase takes its session's phase.
    assert by_id["c"]["activity_phase"] == "foundations" and by_id["e"]["activity_phase"] is None
    sessions = {(s["user_id"], s["session_id"]): s for s in build_sessions(timeline).to_pylist()}
    assert sessions[("u", "s1")]["duration_min"] == 50
    assert len(sessions) == 3
