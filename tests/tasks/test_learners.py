"""Learner task bodies: the run clock, selection, placement, sessions, responses, activity."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pyarrow.parquet as pq
import pytest

from features.activity import ActivityRules
from features.responses import NoEvents
from features.select import Selection
from features.sessions import SessionRules
from features.simulation.publish import DEMO_CURRICULUM
from outputs.tables import write_parquet
from tasks.learners import (
    cut_sessions,
    phase_activity_table,
    place_in_curriculum,
    responses_table,
    run_clock,
    select_learners,
    sessions_table,
)
from tests.features.conftest import T0, make_events


@pytest.fixture
def events_path(tmp_path):
    rows = [
        {"user_id": "a", "event_type": "app_open", "level": "A1", "course_id": "english", "minutes": 0},
        {"user_id": "a", "event_type": "lesson_start", "lesson_id": "en-A1-L01", "minutes": 1},
        {"user_id": "a", "event_type": "prompt_shown", "lesson_id": "en-A1-L01", "prompt_id": "p", "minutes": 2},
        {"user_id": "a", "event_type": "response_submitted", "lesson_id": "en-A1-L01", "prompt_id": "p", "minutes": 3},
        {"user_id": "b", "event_type": "app_open", "level": "A2", "course_id": "english", "minutes": 5},
        {"user_id": "b", "event_type": "response_submitted", "lesson_id": "en-A2-L10", "minutes": 90},
    ]
    return write_parquet(make_events(rows), tmp_path / "events.parquet")


def test_run_clock_defaults_to_the_latest_event_and_its_utc_date(events_path, tmp_path):
    as_of, run_date = run_clock.fn(events_path, None, None)
    assert as_of == datetime(2026, 9, 1, 9, 30, tzinfo=timezone.utc) and run_date == date(2026, 9, 1)
    given = datetime(2026, 9, 2, 23, 0, tzinfo=timezone.utc)
    assert run_clock.fn(events_path, given, date(2026, 9, 3)) == (given, date(2026, 9, 3))
    empty = write_parquet(make_events([]), tmp_path / "empty.parquet")
    with pytest.raises(NoEvents):
        run_clock.fn(empty, None, None)


def test_learner_tasks_chain_from_events_to_phase_activity(events_path, tmp_path):
    work = str(tmp_path)
    as_of = T0.replace(hour=12)
    selected = select_learners.fn(events_path, Selection(levels=("A1",)), as_of, work)
    assert (selected["selected"], selected["filtered_by_reason"]["level"]) == (4, 2)
    everyone = select_learners.fn(events_path, Selection(), as_of, work)
    placed = place_in_curriculum.fn(everyone["path"], str(DEMO_CURRICULUM), work)
    timeline = cut_sessions.fn(placed, SessionRules(inactivity_gap_minutes=30), work)
    sessions = pq.read_table(sessions_table.fn(timeline, work)).to_pylist()
    assert sorted((s["user_id"], s["events"]) for s in sessions) == [("a", 4), ("b", 1), ("b", 1)]
    responses = responses_table.fn(timeline, str(DEMO_CURRICULUM), work)
    rows = {r["user_id"]: r for r in pq.read_table(responses).to_pylist()}
    assert (rows["a"]["phase"], rows["a"]["latency_ms"]) == ("onboarding", 60_000)
    assert (rows["b"]["phase"], rows["b"]["language"]) == ("foundations", "en")
    activity = pq.read_table(phase_activity_table.fn(timeline, sessions_table.fn(timeline, work), responses,
                                                     str(DEMO_CURRICULUM), as_of, ActivityRules(), work)).to_pylist()
    assert sorted((r["user_id"], r["phase"], r["responses"]) for r in activity) == [
        ("a", "onboarding", 1), ("b", "foundations", 1)]
