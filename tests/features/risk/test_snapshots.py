"""Who is in a snapshot and what their label says: inactivity or withdrawal within the horizon,
finishing is not dropping out, no label past as_of."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from features.placement import place_events
from features.risk.options import RiskOptions
from features.risk.snapshots import daily_activity, outcome_times, snapshots
from features.sessions import assign_sessions
from features.activity import ActivityRules
from tests.features.conftest import T0, make_events

DAY = 24 * 60


def _timeline(curriculum, rows):
    return assign_sessions(place_events(make_events(rows), curriculum))


def _active(user, days, **extra):
    return [{"user_id": user, "event_type": "lesson_start", "session_id": f"{user}{d}", "level": "A1",
             "course_id": "english", "lesson_id": "A1-L1", "minutes": d * DAY + 60, **extra} for d in days]


def _labels(curriculum, rows, snapshot_day, as_of_day=60):
    timeline = _timeline(curriculum, rows)
    options = RiskOptions()
    daily = daily_activity(timeline, ActivityRules())
    outcomes = outcome_times(timeline, curriculum.final_milestones(), options)
    day = (T0 + timedelta(days=snapshot_day)).date() + timedelta(days=1)
    rows = snapshots(daily, outcomes, [day], options, T0 + timedelta(days=as_of_day))
    return {r.user_id: (r.label, r.label_source) for r in rows.itertuples()}


def test_inactivity_labels_and_finishing_is_not_dropping_out(curriculum):
    rows = _active("leaver", range(0, 11)) + _active("stayer", range(0, 41)) + _active("finisher", range(0, 12))
    rows.append({"user_id": "finisher", "event_type": "milestone_reached", "session_id": "f", "level": "A1",
                 "course_id": "english", "milestone_id": "A1-M2", "minutes": 12 * DAY})
    labels = _labels(curriculum, rows, snapshot_day=13)
    assert labels == {"leaver": (1, "inactivity"), "stayer": (0, "inactivity")}  # finisher finished before d


def test_withdrawal_events_define_the_label_when_the_platform_sends_them(curriculum):
    rows = _active("quitter", range(0, 20)) + _active("idle", range(0, 11)) + _active("stayer", range(0, 41))
    rows.append({"user_id": "quitter", "event_type": "unregistration", "level": "A1", "course_id": "english",
                 "minutes": 20 * DAY + 120})
    labels = _labels(curriculum, rows, snapshot_day=13)
    # with withdrawal events, inactivity alone is not leaving
    assert labels == {"quitter": (1, "withdrawal"), "idle": (0, "withdrawal"), "stayer": (0, "withdrawal")}
    assert "quitter" not in _labels(curriculum, rows, snapshot_day=21)  # withdrawn before d: not at risk


def test_no_label_when_the_horizon_runs_past_as_of(curriculum):
    labels = _labels(curriculum, _active("stayer", range(0, 41)), snapshot_day=50, as_of_day=55)
    assert pd.isna(labels["stayer"][0])
