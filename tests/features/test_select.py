from datetime import timedelta

from features.select import Selection, select_events
from tests.features.conftest import T0, make_events


def events():
    return make_events([
        {"event_id": "a1", "user_id": "a", "event_type": "app_open", "level": "A1", "cohort": "W1", "minutes": 0},
        {"event_id": "a2", "user_id": "a", "event_type": "level_up", "level": "A2", "minutes": 60},
        {"event_id": "a3", "user_id": "a", "event_type": "app_open", "minutes": 120},
        {"event_id": "b1", "user_id": "b", "event_type": "app_open", "level": "A1", "cohort": "W2", "minutes": 10},
        {"event_id": "b2", "user_id": "b", "event_type": "app_open", "minutes": 200},
        {"event_id": "c1", "user_id": "c", "event_type": "app_open", "minutes": 30},
    ])


def test_selection_by_level_in_force_at_as_of_and_counts_each_reason_once():
    as_of = T0 + timedelta(minutes=150)
    selected, counts = select_events(events(), Selection(levels=("A2",)), as_of)
    assert sorted(selected["event_id"].to_pylist()) == ["a1", "a2", "a3"]
    assert counts["after_as_of"] == 1  # b2
    assert counts["level"] == 2  # b1 (A1 at as_of) and c1 (no level)
    assert selected.num_rows + sum(counts.values()) == 6


def test_selection_by_cohort_and_window():
    as_of = T0 + timedelta(hours=10)
    selected, counts = select_events(
        events(), Selection(cohorts=("W1", "W2"), start=T0 + timedelta(minutes=5),
                            end=T0 + timedelta(minutes=100)), as_of)
    assert sorted(selected["event_id"].to_pylist()) == ["a2", "b1"]
    assert counts == {"after_as_of": 0, "level": 0, "cohort": 1, "before_window": 1, "after_window": 2}
